"""The Optuna side of an adaptive search: distributions of the search space, samplers, pruners,
and the proposals a search starts with (search.start).

Driver-only (the executors never import Optuna). A sampler is built afresh for every proposal,
seeded with `search.seed` + the proposal's number: TPE and random sampling keep no state besides
their random generator, so a study rebuilt from the trial store proposes what the interrupted one
would have proposed next.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from spark_lgbm_tuning.pipelines.tuning import portfolio
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.search_params import SearchRange
from spark_lgbm_tuning.vocabulary.lightgbm_params import ParamValue, cheap_end

logger = logging.getLogger(__name__)

# Wilcoxon's signed-rank test on 2 folds both worse than the best gives p = 0.25 (3: 0.125): with
# the usual 3-5 folds, Optuna's default 0.1 would prune only after every fold had run.
WILCOXON_P = 0.3
# Median pruning starts once this many combinations have reported the same fold.
MEDIAN_STARTUP = 4


def distributions(params: TuningParams) -> dict[str, BaseDistribution]:
    """Axis -> its Optuna distribution: a list is categorical, a range float or int."""
    out: dict[str, BaseDistribution] = {}
    for name, axis in params.grid.items():
        if isinstance(axis, SearchRange):
            if axis.integer:
                out[name] = IntDistribution(int(axis.low), int(axis.high), log=axis.log)
            else:
                out[name] = FloatDistribution(axis.low, axis.high, log=axis.log)
        else:
            out[name] = CategoricalDistribution(list(axis))
    return out


def make_sampler(params: TuningParams, number: int) -> optuna.samplers.BaseSampler:
    """The sampler of proposal `number` (seeded with search.seed + number, see module doc)."""
    seed = params.search.seed + number
    if params.search.strategy == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():
        # multivariate and constant_liar are marked experimental; both are years old.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # constant_liar: combinations still running count as bad ones, so proposals made while
        # others run do not all land on the same point.
        return optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=params.search.startup_trials,
            multivariate=True,
            constant_liar=True,
        )


def make_pruner(params: TuningParams) -> optuna.pruners.BasePruner:
    """search.pruning as an Optuna pruner; steps are folds in run order."""
    pruning = params.search.pruning
    if pruning == "wilcoxon":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.pruners.WilcoxonPruner(p_threshold=WILCOXON_P, n_startup_steps=2)
    if pruning == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP, n_warmup_steps=0)
    if pruning == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    return optuna.pruners.NopPruner()


def reported_value(params: TuningParams, fold_scores: list[float]) -> float:
    """What a combination reports after its latest fold: Wilcoxon pairs single folds with the
    best combination's; median and halving compare running means (less noisy than one fold)."""
    if params.search.pruning == "wilcoxon":
        return fold_scores[-1]
    return sum(fold_scores) / len(fold_scores)


def new_study(params: TuningParams) -> optuna.Study:
    """An in-memory study in the primary metric's direction, with search.pruning's pruner."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our progress lines say it instead
    return optuna.create_study(
        direction="maximize" if params.higher_is_better else "minimize",
        sampler=make_sampler(params, 0),
        pruner=make_pruner(params),
    )


def cheap_start(space: Mapping[str, BaseDistribution]) -> dict[str, Any]:
    """The space's cheapest combination (search.start cheap): each cost-bearing axis at its
    cheap end (lightgbm_params.CHEAP_ENDS; a max_depth <= 0, no limit, counts as the deepest),
    every other axis at its middle (geometric for a log range)."""
    start: dict[str, Any] = {}
    for name, distribution in space.items():
        end = cheap_end(name)
        if isinstance(distribution, CategoricalDistribution):
            choices = list(distribution.choices)
            numeric = all(isinstance(c, int | float) and not isinstance(c, bool) for c in choices)
            if end is None or not numeric:
                start[name] = choices[len(choices) // 2]
            else:
                # A non-positive max_depth means no limit: the costliest, not the cheapest.
                cost = sorted(choices, key=lambda c: (c <= 0, c) if end == "low" else (-c,))
                start[name] = cost[0]
            continue
        low, high = distribution.low, distribution.high
        if end is not None:
            value = low if end == "low" else high
        elif distribution.log:
            value = math.sqrt(low * high)
        else:
            value = (low + high) / 2
        start[name] = round(value) if isinstance(distribution, IntDistribution) else value
    return start


def _fits(value: Any, distribution: BaseDistribution) -> bool:
    """Whether a stored value is one `distribution` could have proposed."""
    if isinstance(distribution, CategoricalDistribution):
        return value in distribution.choices
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(distribution, IntDistribution) and value != int(value):
        return False
    return distribution.low <= value <= distribution.high


def combination_from_params(
    params_json: str, space: Mapping[str, BaseDistribution]
) -> dict[str, ParamValue] | None:
    """The axis values a stored trial ran with (from its LightGBM params), or None when it lies
    outside the space (another search's trial)."""
    try:
        recorded: dict[str, Any] = json.loads(params_json)
    except (TypeError, json.JSONDecodeError):
        return None
    if not all(name in recorded and _fits(recorded[name], space[name]) for name in space):
        return None
    return {name: recorded[name] for name in space}


def start_wave(
    params: TuningParams,
    space: Mapping[str, BaseDistribution],
    data: portfolio.DataFacts | None,
    slots: int,
) -> list[dict[str, Any]]:
    """search.start's proposals, made before the sampler's: the cheapest combination (cheap),
    one per task slot from the portfolio nearest `data` (portfolio), LightGBM's defaults fitted
    into the space (stepwise's own start, with `sampler`), else none."""
    start = params.search.start
    if start == "cheap":
        return [cheap_start(space)]
    if start == "portfolio":
        if data is None:
            raise ValueError("search.start portfolio needs the data's facts (rows, features)")
        wave = portfolio.first_wave(space, params.task, data, slots)
        logger.info(
            "Search starts from the portfolio (FLAML's zero-shot, nearest your data first): %s",
            "; ".join(_described(values) for values in wave),
        )
        return wave
    if params.search.strategy == "stepwise":
        return [portfolio.fitted({}, space)]
    return []


def _described(values: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}"
        for name, value in values.items()
    )
