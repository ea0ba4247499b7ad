"""`params:tuning` (and `params:regression.tuning`) as one typed, validated model.

Kedro validates it before any node runs (the nodes are typed with it); it imports neither pyspark
nor the executor code, so reporting can read the search settings without starting Spark.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any, Literal, Self

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    field_validator,
    model_validator,
)

from spark_lgbm_tuning.pipelines.tuning.search_params import (
    ADAPTIVE_STRATEGIES,
    SearchParams,
    SearchRange,
    parsed_range,
)
from spark_lgbm_tuning.vocabulary import lightgbm_params
from spark_lgbm_tuning.vocabulary.errors import ExplainedError, InputDataError
from spark_lgbm_tuning.vocabulary.lightgbm_params import (
    CATEGORICAL_PARAM,
    CLASSIFICATION_OBJECTIVES,
    DEFAULT_PRIMARY_METRIC,
    METRIC_ALIASES,
    MULTICLASS_EARLY_STOPPING,
    MULTICLASS_EARLY_STOPPING_NAMES,
    MULTICLASS_OBJECTIVES,
    NUM_CLASS_ALIASES,
    PARAM_DEFAULTS,
    TASK_METRICS,
    ParamValue,
    higher_is_better,
    reserved_name_error,
    unknown_name_error,
    value_type_error,
)

# `tuning.grid_replace: true` in a config layer: its grid replaces the lower layers' whole (read
# by the project's config loader, which removes it; see config_loader.py).
GRID_REPLACE = "grid_replace"
# The key of tuning_run_info that holds TuningParams.search_description() of its search.
RUN_INFO_SEARCH = "search"


class TooManyTrialsError(ExplainedError, ValueError):
    """The search would run more trials than tuning.max_trials allows."""


class TuningParams(BaseModel):
    """The search space of `params:tuning` (and `params:regression.tuning`)."""

    model_config = ConfigDict(extra="forbid")

    # classification (binary), multiclass (objective multiclass, num_class from the data) or
    # regression.
    task: Literal["classification", "multiclass", "regression"] = "classification"
    # Ranks combinations; null: the task's default (DEFAULT_PRIMARY_METRIC).
    primary_metric: (
        Literal[
            "accuracy",
            "precision",
            "recall",
            "f1",
            "auc_roc",
            "logloss",
            "auc_ovr_macro",
            "multi_logloss",
            "f1_macro",
            "rmse",
            "mae",
            "r2",
        ]
        | None
    ) = None
    # LightGBM parameters shared by every trial.
    fixed: dict[str, ParamValue] = Field(default_factory=dict)
    # LightGBM parameter name -> the values to try; trials are the cartesian product. A null
    # value drops the axis (or, in `fixed`, the parameter) that a lower config layer set. With
    # an adaptive search.strategy an axis may also be a range {low, high, log, int}.
    grid: dict[str, list[ParamValue] | SearchRange]
    search: SearchParams = Field(default_factory=SearchParams)
    # Fold ids to tune on; null = every fold in the fold table.
    folds: list[NonNegativeInt] | None = None
    # Boosting rounds (the cap, with early stopping). A grid axis `num_boost_round` overrides it
    # per trial; trials that differ only in it share one boosting run.
    num_boost_round: int = Field(500, ge=1, le=100_000)
    # Rounds without improvement before stopping; null or 0: fixed rounds (0..10000).
    early_stopping_rounds: int | None = Field(50, ge=0, le=10_000)
    max_trials: int = Field(1000, ge=1, le=1_000_000)
    progress_interval_s: float = Field(5.0, gt=0, le=600)
    # Reuse the trial store's finished trials; false reruns every trial of the search.
    resume: bool = True
    # Wall-time limit of one trial's boosting run (seconds, 0 < value <= 86400); null: none.
    trial_timeout_s: float | None = Field(None, gt=0, le=86_400)
    # Trial store retention, applied when a run compacts the store: per fold, keep the trials of
    # the N most recent versions of its data (1..1000), the current one always among them;
    # null keeps every version forever.
    store_keep_fingerprints: int | None = Field(3, ge=1, le=1000)

    @field_validator("grid", mode="before")
    @classmethod
    def _grid_axes_are_lists(cls, grid: Any) -> Any:
        if not isinstance(grid, Mapping) or not grid:
            raise ValueError(
                "grid must map at least one LightGBM parameter to a list of values, "
                f"e.g. {{num_leaves: [15, 63]}}; got {grid!r}"
            )
        grid = dict(grid)
        for name, axis in grid.items():
            # [{low: .., high: ..}]: the form the project's config loader gives every range, so
            # that Kedro's merge can replace a list axis with it (config_loader.py).
            one = isinstance(axis, list | tuple) and len(axis) == 1 and isinstance(axis[0], Mapping)
            values = axis[0] if one else axis
            if isinstance(values, Mapping):
                grid[name] = parsed_range(name, values)
                continue
            if not isinstance(values, list | tuple):
                raise ValueError(
                    f"grid.{name} must be a list of values (e.g. [{values!r}]), "
                    f"got {type(values).__name__} {values!r}"
                )
            if len(values) == 0:
                raise ValueError(f"grid.{name} is an empty list: give at least one value")
        return grid

    @field_validator("fixed", "grid", mode="before")
    @classmethod
    def _null_drops_a_name(cls, names: Any) -> Any:
        # Parameters are soft-merged across config envs (settings.py): an env removes a name
        # a lower layer set (e.g. a base grid axis) by setting it to null. Defined after
        # _grid_axes_are_lists so that it runs first (pydantic's order for before-validators).
        if isinstance(names, Mapping):
            return {name: value for name, value in names.items() if value is not None}
        return names

    @field_validator("folds")
    @classmethod
    def _folds_unique(cls, folds: list[int] | None) -> list[int] | None:
        if folds is not None and (not folds or len(set(folds)) != len(folds)):
            raise ValueError(f"folds must be null (all folds) or distinct fold ids, got {folds}")
        return folds

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.primary_metric is None:
            self.primary_metric = DEFAULT_PRIMARY_METRIC[self.task]
        allowed = TASK_METRICS[self.task]
        if self.primary_metric not in allowed:
            raise ValueError(
                f"primary_metric {self.primary_metric!r} does not apply to task {self.task!r}; "
                f"allowed: {', '.join(allowed)}"
            )
        for section, names in (("fixed", self.fixed), ("grid", self.grid)):
            for name in names:
                error = reserved_name_error(section, name) or unknown_name_error(section, name)
                if error:
                    raise ValueError(error)
        self._check_value_types()
        self._check_space()
        for rounds in self.grid.get("num_boost_round", []):
            if (
                isinstance(rounds, bool)
                or not isinstance(rounds, int)
                or not 1 <= rounds <= 100_000
            ):
                raise ValueError(
                    f"grid.num_boost_round values must be integers in 1..100000, got {rounds!r}"
                )
        both = sorted(set(self.fixed) & set(self.grid))
        if both:
            raise ValueError(f"{', '.join(both)} appear in both fixed and grid; keep one")
        self._check_objective()
        self.check_max_trials(len(self.folds) if self.folds else None)
        return self

    def _check_objective(self) -> None:
        """The objective (and, for multiclass, the early-stopping metric) of the task; num_class
        never set by hand."""
        for section, names in (("fixed", self.fixed), ("grid", self.grid)):
            for name in names:
                if name in NUM_CLASS_ALIASES:
                    raise ValueError(
                        f"{section}.{name} is set from the data's classes (task multiclass): "
                        "drop it"
                    )
        objective = self.fixed.get("objective")
        if self.task == "classification" and objective not in CLASSIFICATION_OBJECTIVES:
            raise ValueError(
                f"fixed.objective must be one of {sorted(CLASSIFICATION_OBJECTIVES)} "
                f"for task classification (metrics use P(class 1)), got {objective!r}"
            )
        if self.task == "multiclass":
            if objective not in MULTICLASS_OBJECTIVES:
                raise ValueError(
                    f"fixed.objective must be one of {sorted(MULTICLASS_OBJECTIVES)} for task "
                    f"multiclass (metrics use one probability per class), got {objective!r}"
                )
            metrics = [self.fixed[name] for name in METRIC_ALIASES if name in self.fixed]
            if any(metric not in MULTICLASS_EARLY_STOPPING_NAMES for metric in metrics):
                raise ValueError(
                    f"fixed.metric {metrics[0]!r} does not apply to task multiclass, which stops "
                    f"early on {MULTICLASS_EARLY_STOPPING}: set fixed.metric: "
                    f"{MULTICLASS_EARLY_STOPPING}"
                )
        if self.task == "regression" and objective in (
            CLASSIFICATION_OBJECTIVES | MULTICLASS_OBJECTIVES
        ):
            raise ValueError(f"fixed.objective {objective!r} is a classification objective")

    def _check_value_types(self) -> None:
        """Each fixed and grid list value of the type its LightGBM parameter takes (a range's
        ends are numbers, checked by SearchRange)."""
        values = [("fixed", name, value) for name, value in self.fixed.items()]
        values += [
            ("grid", name, value)
            for name, axis in self.grid.items()
            if not isinstance(axis, SearchRange) and name != lightgbm_params.GRID_ONLY_ROUNDS
            for value in axis
        ]
        for section, name, value in values:
            error = value_type_error(section, name, value)
            if error:
                raise ValueError(error)

    def check_max_trials(self, n_folds: int | None) -> None:
        """TooManyTrialsError when the combinations x `n_folds` (None: not known yet, counted as
        one) are more trials than max_trials."""
        n_trials = self.n_planned * (n_folds or 1)
        if n_trials > self.max_trials:
            raise TooManyTrialsError(
                f"tuning.max_trials={self.max_trials} but the "
                f"{'budget' if self.search.adaptive else 'grid'} has {self.n_planned} "
                "combinations"
                + (f" x {n_folds} folds" if n_folds else "")
                + f" = {n_trials} trials (allowed 1..1000000): shrink tuning.grid, choose "
                "tuning.folds, or raise tuning.max_trials"
            )

    @model_validator(mode="after")
    def _a_rung_below_the_cap(self) -> Self:
        rule = self.search.round_pruning
        if rule.active and rule.min_rounds >= self.max_rounds:
            raise ValueError(
                f"search.round_pruning.min_rounds={rule.min_rounds} leaves no rung below the "
                f"{self.max_rounds} boosting rounds of the longest trial: lower it"
            )
        return self

    def _check_space(self) -> None:
        ranges = sorted(name for name, axis in self.grid.items() if isinstance(axis, SearchRange))
        if ranges and not self.search.adaptive:
            raise ValueError(
                f"grid.{ranges[0]} is a range, which strategy grid cannot enumerate: give a "
                f"list of values, or set search.strategy to {' or '.join(ADAPTIVE_STRATEGIES)}"
            )
        if self.search.adaptive and lightgbm_params.GRID_ONLY_ROUNDS in self.grid:
            raise ValueError(
                "grid.num_boost_round is a grid-only axis; with an adaptive strategy set "
                "num_boost_round (the cap) and early_stopping_rounds instead"
            )

    @property
    def n_combinations(self) -> int:
        """The grid's combinations (the cartesian product of its lists)."""
        if any(isinstance(axis, SearchRange) for axis in self.grid.values()):
            raise ValueError("a search space with ranges has no finite number of combinations")
        return int(np.prod([len(axis) for axis in self.grid.values()]))

    @property
    def n_planned(self) -> int:
        """Combinations the search may run: the grid's, or an adaptive search's budget (or, with
        a time budget only, the grid's size when every axis is a list)."""
        if not self.search.adaptive:
            return self.n_combinations
        if self.search.n_combinations is not None:
            return self.search.n_combinations
        if any(isinstance(axis, SearchRange) for axis in self.grid.values()):
            return 1
        return self.n_combinations

    def search_description(self) -> dict[str, Any]:
        """What identifies the search these parameters run, as plain JSON values: task, fixed
        parameters, grid or space, strategy and budget, folds and boosting rounds.

        tuning_run_info records it; reporting refuses results whose search differs from the
        current parameters'. The metric they are ranked by, limits and resume settings are not
        part of it.
        """
        return {
            "task": self.task,
            "fixed": dict(self.fixed),
            "grid": {
                name: axis.described() if isinstance(axis, SearchRange) else list(axis)
                for name, axis in self.grid.items()
            },
            "search": self.search.model_dump(),
            "folds": self.folds,
            "num_boost_round": self.num_boost_round,
            "early_stopping_rounds": self.early_stopping_rounds or None,
        }

    @property
    def higher_is_better(self) -> bool:
        return higher_is_better(self.primary_metric)

    def combinations(self) -> Iterator[dict[str, ParamValue]]:
        """Each grid combination, in grid order (the last axis varies fastest)."""
        if self.search.adaptive:
            raise ValueError("an adaptive search proposes its combinations; it has no grid order")
        names = list(self.grid)
        for values in itertools.product(*(self.grid[name] for name in names)):
            yield dict(zip(names, values, strict=True))

    @property
    def max_rounds(self) -> int:
        """The boosting rounds of the longest trial (the largest num_boost_round)."""
        return max(self.grid.get(lightgbm_params.GRID_ONLY_ROUNDS) or [self.num_boost_round])

    def rounds(self, combination: Mapping[str, ParamValue]) -> int:
        """The boosting rounds (cap) of one combination: its grid value, else num_boost_round."""
        return int(combination.get("num_boost_round", self.num_boost_round))

    def with_categorical(self, features: list[str], categorical: list[str]) -> TuningParams:
        """These params with the categorical features' positions among `fixed`.

        Every binning (shipped folds, the final refit) and every trial's id then includes them;
        the positions come from the model input's category columns, never from a hand-set value.
        """
        if CATEGORICAL_PARAM in self.fixed:
            raise InputDataError(
                f"tuning.fixed sets {CATEGORICAL_PARAM}: name categorical columns in "
                "columns.categorical instead (the preparation pipeline encodes them)"
            )
        if not categorical:
            return self
        positions = ",".join(str(features.index(name)) for name in categorical)
        return self.model_copy(update={"fixed": {**self.fixed, CATEGORICAL_PARAM: positions}})

    def with_num_class(self, n_classes: int) -> TuningParams:
        """These params with `num_class` among `fixed` for task multiclass (others unchanged).

        The count comes from the model input's classes (folds.searched_params), never by hand;
        like the categorical positions it then enters every trial's id and binning.
        """
        if self.task != "multiclass":
            return self
        return self.model_copy(update={"fixed": {**self.fixed, "num_class": int(n_classes)}})

    def lightgbm_params(self, combination: Mapping[str, ParamValue]) -> dict[str, Any]:
        """The full LightGBM parameters of one combination (fixed ones included).

        A num_boost_round grid value is not among them: LightGBM would read it as num_iterations.
        """
        combination = {k: v for k, v in combination.items() if k != "num_boost_round"}
        return {**PARAM_DEFAULTS, **self.fixed, **combination}
