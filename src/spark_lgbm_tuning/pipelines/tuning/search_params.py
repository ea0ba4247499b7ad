"""`tuning.search` and the ranges of an adaptive search space, as typed, validated models.

How combinations are chosen (grid, or Optuna's random / tpe over lists and ranges), the budget,
and pruning between folds and inside boosting runs. Part of `params:tuning` (params.py), with no
pyspark or executor import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, ValidationError, model_validator

from spark_lgbm_tuning.vocabulary.lightgbm_params import ParamValue
from spark_lgbm_tuning.vocabulary.params_model import ParamsModel

GRID = "grid"
# Strategies that propose combinations one at a time (Optuna samplers on the driver).
ADAPTIVE_STRATEGIES = ("random", "tpe", "stepwise")


class SearchRange(ParamsModel):
    """A range of one search-space axis: `{low, high, log, int}` (adaptive strategies only)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    low: float
    high: float
    log: bool = False
    # Integer values (num_leaves, max_depth, ...); YAML spells it `int`.
    integer: bool = Field(False, alias="int")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - {"low", "high", "log", "int"})
            if unknown:
                raise ValueError(
                    f"unknown key(s) {unknown}; a range has the keys ['high', 'int', 'log', 'low']"
                )
        return data

    @model_validator(mode="after")
    def _possible(self) -> Self:
        if not self.low < self.high:
            raise ValueError(f"a range needs low < high, got low={self.low:g} high={self.high:g}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0, got low={self.low:g}")
        if self.integer and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError(f"an int range needs integer ends, got {self.low:g}..{self.high:g}")
        return self

    def described(self) -> dict[str, Any]:
        """The range as its config spells it."""
        return {"low": self.low, "high": self.high, "log": self.log, "int": self.integer}

    def ends(self) -> list[ParamValue]:
        """The two endpoints as the values a trial would get (LightGBM checks them)."""
        if self.integer:
            return [int(self.low), int(self.high)]
        return [self.low, self.high]


def parsed_range(name: str, values: Mapping[str, Any]) -> SearchRange:
    """grid.<name> as a range, or a ValueError naming the axis and the first problem."""
    try:
        return SearchRange.model_validate(dict(values))
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ValueError(f"grid.{name} range{' ' + where if where else ''}: {message}") from None


class RoundPruningParams(ParamsModel):
    """`tuning.search.round_pruning`: stop a trial inside its boosting run (pipelines/tuning/rungs.py).

    Rungs are geometric, min_rounds x eta^k rounds below the cap. Against crossing learning curves
    (early rounds misrank combinations of different capacity at a low learning rate), no rung
    comes before min_rounds, a rung prunes only once min_trials trials of the fold reached it,
    and a trial goes on while within `margin` (in the metric's units) of the top-1/eta score.
    """

    # none, or asha (asynchronous successive halving: at each rung a trial goes on only while
    # among the top 1/eta of its fold's trials that reached it).
    rule: Literal["none", "asha"] = "none"
    # Rung spacing (> 1) and the share kept at a rung (1/eta).
    eta: float = Field(3.0, gt=1, le=100)
    min_rounds: int = Field(100, ge=1, le=100_000)
    min_trials: int = Field(4, ge=1, le=100_000)
    # Slack in the metric's units. The replay of a seed-shaped grid (docs/benchmarks/
    # rung-replay-*) lost the winner without it in some settings and kept it in all with 0.002.
    margin: float = Field(0.002, ge=0)
    # Rungs do not decide on the k folds with the fewest training rows (their trials run
    # unpruned, noting rung scores): a small fold's early rounds rank combinations least like
    # the mean over folds does (docs/benchmarks/rung-replay-*).
    exempt_smallest_folds: int = Field(0, ge=0, le=1000)
    # Adaptive strategies: no rung prunes until this many combinations completed every fold, so
    # the sampler models whole results, not only pruned ones (the grid ignores it).
    min_complete: int = Field(0, ge=0, le=100_000)
    # Rungs judge a combination on the first k folds it runs only (0: on every fold): to stay in
    # the top 1/eta at every rung of every fold, a combination's chances multiply down.
    rung_folds: int = Field(0, ge=0, le=1000)

    @model_validator(mode="before")
    @classmethod
    def _rule_alone(cls, data: Any) -> Any:
        # `round_pruning: asha` is short for `round_pruning: {rule: asha}`.
        return {"rule": data} if isinstance(data, str) else data

    @property
    def active(self) -> bool:
        return self.rule != "none"


class SearchParams(ParamsModel):
    """`tuning.search`: how combinations are chosen, the budget, and fold-wise pruning."""

    # grid: every combination of the grid's lists (the default); random / tpe: Optuna proposes
    # combinations one at a time from lists (categorical) and ranges; stepwise: tpe over a few
    # groups of axes in turn, the others at the best so far (Optuna's LightGBM tuner's idea).
    strategy: Literal["grid", "random", "tpe", "stepwise"] = GRID
    # Budget of an adaptive search: combinations proposed (1..100000) and/or wall seconds.
    n_combinations: int | None = Field(None, ge=1, le=100_000)
    time_budget_s: float | None = Field(None, gt=0, le=30 * 86_400)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    # An adaptive search's first proposals: the sampler's (sampler); the space's cheapest
    # combination (cheap: fewest leaves, shallowest, highest learning rate..., FLAML's low-cost
    # start), which finishes early and gives round pruning its first rung scores soon; or one
    # per task slot from a portfolio of configurations mined across many datasets, the one mined
    # on data most like yours first (portfolio: FLAML's zero-shot portfolio, see portfolio.py).
    start: Literal["sampler", "cheap", "portfolio"] = "sampler"
    # tpe and stepwise: TPE's random start, proposals made before it models the results (Optuna's
    # default is 10; docs/benchmarks/time-to-target.md measures fewer).
    startup_trials: int = Field(8, ge=1, le=1000)
    # Stop evaluating a combination on further folds once its finished folds show it is worse:
    # none | wilcoxon (paired test against the best combination's folds) | median (below the
    # median of the others on the same folds) | halving (successive halving over folds).
    pruning: Literal["none", "wilcoxon", "median", "halving"] = "none"
    # Stop a trial inside its boosting run at rungs of rounds, with any strategy (the grid
    # included) and combined with `pruning`: none | asha (see RoundPruningParams).
    round_pruning: RoundPruningParams = Field(default_factory=RoundPruningParams)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.strategy == GRID:
            if self.pruning != "none":
                raise ValueError(
                    f"search.pruning {self.pruning!r} needs an adaptive strategy "
                    f"({' or '.join(ADAPTIVE_STRATEGIES)}); the grid runs every fold"
                )
            if self.start != "sampler":
                raise ValueError(
                    f"search.start {self.start!r} chooses an adaptive strategy's first "
                    "proposal; the grid runs every combination"
                )
            if self.n_combinations is not None or self.time_budget_s is not None:
                raise ValueError(
                    "search.n_combinations / search.time_budget_s budget an adaptive strategy "
                    f"({' or '.join(ADAPTIVE_STRATEGIES)}); the grid runs every combination"
                )
        elif self.n_combinations is None and self.time_budget_s is None:
            raise ValueError(
                f"search.strategy {self.strategy!r} needs a budget: set search.n_combinations "
                "and/or search.time_budget_s"
            )
        return self

    @property
    def adaptive(self) -> bool:
        return self.strategy != GRID
