"""`params:tuning` (and `params:regression.tuning`) as one typed, validated model.

Kedro validates it before any node runs (the nodes are typed with it); it imports neither pyspark
nor the executor code, so reporting can read the search settings without starting Spark.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any, Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, field_validator, model_validator

from spark_lgbm_tuning.lightgbm_params import (
    CLASSIFICATION_OBJECTIVES,
    TASK_METRICS,
    ParamValue,
    higher_is_better,
    reserved_name_error,
    unknown_name_error,
)


class TuningParams(BaseModel):
    """The search space of `params:tuning` (and `params:regression.tuning`)."""

    model_config = ConfigDict(extra="forbid")

    task: Literal["classification", "regression"] = "classification"
    primary_metric: Literal[
        "accuracy", "precision", "recall", "f1", "auc_roc", "logloss", "rmse", "mae", "r2"
    ]
    # LightGBM parameters shared by every trial.
    fixed: dict[str, ParamValue] = Field(default_factory=dict)
    # LightGBM parameter name -> the values to try; trials are the cartesian product. A null
    # value drops the axis (or, in `fixed`, the parameter) that a lower config layer set.
    grid: dict[str, list[ParamValue]]
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
        for name, values in grid.items():
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
        objective = self.fixed.get("objective")
        if self.task == "classification" and objective not in CLASSIFICATION_OBJECTIVES:
            raise ValueError(
                f"fixed.objective must be one of {sorted(CLASSIFICATION_OBJECTIVES)} "
                f"for task classification (metrics use P(class 1)), got {objective!r}"
            )
        if self.task == "regression" and objective in CLASSIFICATION_OBJECTIVES:
            raise ValueError(f"fixed.objective {objective!r} is a classification objective")
        n_trials = self.n_combinations * len(self.folds or [0])
        if n_trials > self.max_trials:
            raise ValueError(
                f"the grid has {self.n_combinations} combinations"
                + (f" x {len(self.folds)} folds" if self.folds else "")
                + f" = {n_trials} trials, above max_trials={self.max_trials} "
                "(allowed 1..1000000): shrink grid or raise max_trials"
            )
        return self

    @property
    def n_combinations(self) -> int:
        return int(np.prod([len(values) for values in self.grid.values()]))

    @property
    def higher_is_better(self) -> bool:
        return higher_is_better(self.primary_metric)

    def combinations(self) -> Iterator[dict[str, ParamValue]]:
        """Each grid combination, in grid order (the last axis varies fastest)."""
        names = list(self.grid)
        for values in itertools.product(*(self.grid[name] for name in names)):
            yield dict(zip(names, values, strict=True))

    def rounds(self, combination: Mapping[str, ParamValue]) -> int:
        """The boosting rounds (cap) of one combination: its grid value, else num_boost_round."""
        return int(combination.get("num_boost_round", self.num_boost_round))

    def lightgbm_params(self, combination: Mapping[str, ParamValue]) -> dict[str, Any]:
        """The full LightGBM parameters of one combination (fixed ones included).

        A num_boost_round grid value is not among them: LightGBM would read it as num_iterations.
        """
        combination = {k: v for k, v in combination.items() if k != "num_boost_round"}
        params: dict[str, Any] = {"verbosity": -1, **self.fixed, **combination}
        params["feature_pre_filter"] = params.get("feature_pre_filter", False)
        return params
