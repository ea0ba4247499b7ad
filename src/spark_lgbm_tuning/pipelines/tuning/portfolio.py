"""`search.start: portfolio`: an adaptive search's first wave from LightGBM configurations that
did well across many datasets, the one closest to the user's data first.

Source: FLAML's zero-shot LightGBM portfolio (flaml 2.8, `flaml/default/lgbm/{binary,multiclass,
regression}.json`, MIT licence; Wang, Wu et al., "Mining Robust Default Configurations for
Resource-constrained AutoML", arXiv:2202.09927), mined by FLAML's authors offline on OpenML
datasets, none of them this project's benchmark data. Kept here: each configuration's values in
LightGBM's canonical names (FLAML's `log_max_bin` v as max_bin 2^v - 1; its n_estimators left out:
our rounds are num_boost_round with early stopping), and its *home*: the median meta-features
(rows, features, numeric share) of the datasets FLAML's table gives it as first choice. A user's
data orders the configurations by the distance to their homes in FLAML's normalised units (its
`preprocessing` center and scale), so the configuration mined on data like the user's runs first.
LightGBM's defaults (FLAML's empty configuration) are one of them.

Each configuration is then fitted into the user's space (`fitted`): an axis it sets is clipped to
the axis' range (or its nearest list value), an axis it leaves unset takes LightGBM's default the
same way, and the rest of the space its middle. Pure: no Spark, no Optuna.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution

from spark_lgbm_tuning.vocabulary.lightgbm_params import spellings


@dataclass(frozen=True)
class DataFacts:
    """What the portfolio's order reads of the data: rows, feature columns, numeric share."""

    rows: int
    features: int
    numeric_share: float


@dataclass(frozen=True)
class Configuration:
    """One portfolio configuration: its LightGBM values and the meta-features of its home."""

    name: str
    values: Mapping[str, float]
    home: DataFacts


@dataclass(frozen=True)
class Portfolio:
    """The configurations of one task and FLAML's normalisation of (rows, features, numeric share)."""

    configurations: tuple[Configuration, ...]
    center: tuple[float, float, float]
    scale: tuple[float, float, float]

    def ordered(self, data: DataFacts) -> list[Configuration]:
        """The configurations, the one whose home is closest to `data` first (ties: as listed)."""

        def distance(home: DataFacts) -> float:
            return math.dist(self._normalised(data), self._normalised(home))

        return sorted(self.configurations, key=lambda config: distance(config.home))

    def _normalised(self, data: DataFacts) -> tuple[float, ...]:
        values = (data.rows, data.features, data.numeric_share)
        return tuple(
            (value - center) / scale
            for value, center, scale in zip(values, self.center, self.scale, strict=True)
        )


# The values' names (LightGBM's canonical ones), in the order of each row of the tables below.
VALUE_NAMES = (
    "num_leaves",
    "min_data_in_leaf",
    "learning_rate",
    "max_bin",
    "feature_fraction",
    "lambda_l1",
    "lambda_l2",
)
LIGHTGBM_DEFAULTS = "lightgbm_defaults"
# A parameter whose non-positive values mean "no limit" (the costliest end, not the cheapest).
NO_LIMIT_PARAM = "max_depth"
# LightGBM's own defaults of the parameters a space usually tunes; max_depth -1 is no limit.
DEFAULT_VALUES: dict[str, float] = {
    "num_leaves": 31,
    "max_depth": -1,
    "learning_rate": 0.1,
    "min_data_in_leaf": 20,
    "min_sum_hessian_in_leaf": 1e-3,
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
    "bagging_freq": 0,
    "lambda_l1": 0.0,
    "lambda_l2": 0.0,
    "min_gain_to_split": 0.0,
    "max_bin": 255,
}

# name, home (rows, features, numeric share), values in VALUE_NAMES' order (None: defaults).
# fmt: off
_CLASSIFICATION = (
    ("flaml_binary_0", (29_492, 28, 1.0), (1667, 29, 0.0016661, 255, 0.51571, 0.045793, 0.0012363)),
    ("flaml_binary_1", (17_940, 18, 0.6), (139, 8, 0.048247, 511, 0.52614, 0.0028969, 0.024463)),
    ("flaml_binary_2", (81_028, 154, 0.87), (4, 3, 0.0090340, 1023, 0.53933, 15.800, 34.825)),
    ("flaml_binary_3", (1_286, 18, 0.71), (1208, 8, 0.020707, 15, 0.37916, 0.0029826, 1.1366)),
    (LIGHTGBM_DEFAULTS, (35_638, 103, 0.5), None),
)
_MULTICLASS = (
    ("flaml_multiclass_0", (374_569, 60, 1.0), (225, 21, 0.10182, 31, 0.61036, 0.00097656, 40.414)),
    ("flaml_multiclass_1", (60_801, 42, 0.0), (155, 4, 0.040942, 31, 0.53263, 0.74087, 0.54677)),
    ("flaml_multiclass_2", (9_000, 216, 1.0), (16, 52, 0.24228, 127, 1.0, 0.034332, 0.038705)),
    ("flaml_multiclass_3", (58_676, 180, 1.0), (106, 49, 0.0071462, 127, 0.46948, 0.37429, 23.640)),
    ("flaml_multiclass_4", (7_413, 800, 1.0), (58, 2, 0.022731, 31, 0.56209, 0.0031615, 0.021751)),
    ("flaml_multiclass_6", (1_420, 17, 1.0), (24, 53, 0.019317, 63, 0.39557, 0.0013785, 0.046444)),
    (LIGHTGBM_DEFAULTS, (1_555, 6, 0.0), None),
)
_REGRESSION = (
    ("flaml_regression_0", (16_038, 15, 0.83), (122, 2, 0.022636, 511, 0.70199, 0.0042522, 0.11288)),
    ("flaml_regression_1", (70_834, 10, 0.83), (42, 12, 0.021672, 127, 0.73850, 0.0036072, 12.083)),
    ("flaml_regression_2", (922_509, 10, 1.0), (372, 4, 0.035173, 31, 1.0, 0.022711, 0.0019638)),
    (LIGHTGBM_DEFAULTS, (32_342, 10, 0.85), None),
)
# fmt: on


def _portfolio(rows: tuple, center: tuple, scale: tuple) -> Portfolio:
    configurations = tuple(
        Configuration(
            name,
            dict(zip(VALUE_NAMES, values, strict=True)) if values else {},
            DataFacts(*home),
        )
        for name, home, values in rows
    )
    return Portfolio(configurations, center, scale)


# Task -> its portfolio; center and scale are FLAML's `preprocessing` of each file.
PORTFOLIOS: dict[str, Portfolio] = {
    "classification": _portfolio(_CLASSIFICATION, (18_000, 28, 0.75652), (42_124, 130, 0.57143)),
    "multiclass": _portfolio(_MULTICLASS, (40_337, 54, 1.0), (58_722, 766, 1.0)),
    "regression": _portfolio(_REGRESSION, (36_691, 10, 1.0), (140_856, 3, 0.33333)),
}


def first_wave(
    space: Mapping[str, BaseDistribution], task: str, data: DataFacts, size: int
) -> list[dict[str, Any]]:
    """Up to `size` distinct combinations of `space`: the task's portfolio in `data`'s order,
    each fitted into the space (two configurations that fit to one combination count once)."""
    wave: list[dict[str, Any]] = []
    for configuration in PORTFOLIOS[task].ordered(data):
        combination = fitted(configuration.values, space)
        if combination not in wave:
            wave.append(combination)
        if len(wave) == size:
            break
    return wave


def fitted(values: Mapping[str, float], space: Mapping[str, BaseDistribution]) -> dict[str, Any]:
    """`values` (canonical LightGBM names) as a combination of `space`: each axis, under any of
    LightGBM's names for it, at the configuration's value, else LightGBM's default, else the
    middle of the axis; then the axis value nearest it (see `_fit`)."""
    combination = {}
    for axis, distribution in space.items():
        names = spellings(axis)
        value = next((v for name, v in values.items() if name in names), None)
        if value is None:
            value = next((v for name, v in DEFAULT_VALUES.items() if name in names), None)
        if value is not None and value <= 0 and NO_LIMIT_PARAM in names:
            value = math.inf  # no depth limit: the deepest the axis allows
        combination[axis] = _fit(value, distribution)
    return combination


def _fit(value: float | None, distribution: BaseDistribution) -> Any:
    """The axis value nearest `value` (None: the axis' middle; a list of non-numbers: its middle).
    A range clips; a list takes the nearest value (on a log scale where both are positive)."""
    if isinstance(distribution, CategoricalDistribution):
        choices = list(distribution.choices)
        numeric = [c for c in choices if isinstance(c, int | float) and not isinstance(c, bool)]
        if value is None or len(numeric) != len(choices):
            return choices[len(choices) // 2]
        if math.isinf(value):
            # No depth limit: a non-positive choice if the list has one, else its deepest.
            return min(numeric) if min(numeric) <= 0 else max(numeric)
        return min(numeric, key=lambda choice: (_gap(choice, value), choices.index(choice)))
    low, high = distribution.low, distribution.high
    if value is None:
        value = math.sqrt(low * high) if distribution.log else (low + high) / 2
    value = min(max(value, low), high)
    return round(value) if isinstance(distribution, IntDistribution) else value


def _gap(choice: float, value: float) -> float:
    """Distance between list value and wanted value: on a log scale where both are positive."""
    if choice > 0 and value > 0:
        return abs(math.log(choice) - math.log(value))
    return abs(choice - value)
