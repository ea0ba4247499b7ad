"""`search.start: portfolio`: an adaptive search's first wave from LightGBM configurations that
did well across many datasets, in the order mined for data like the user's.

Source: FLAML's zero-shot LightGBM portfolio (flaml 2.8, `flaml/default/lgbm/{binary,multiclass,
regression}.json`, MIT licence; Wang, Wu et al., "Mining Robust Default Configurations for
Resource-constrained AutoML", arXiv:2202.09927), mined by FLAML's authors offline on OpenML
datasets, none of them this project's benchmark data. Kept here as published: each
configuration's values in LightGBM's canonical names (FLAML's `log_max_bin` v as max_bin 2^v - 1;
its n_estimators left out: our rounds are num_boost_round with early stopping), and FLAML's
neighbours: the normalised meta-features (rows, features, classes, numeric share) of each mining
dataset with its order of preference among the configurations. As FLAML's zero-shot does, the
user's data takes the order of its nearest neighbour (in FLAML's normalised units); the
configurations that order leaves out follow in portfolio order. LightGBM's defaults (FLAML's
empty configuration) are one of them.

Each configuration is then fitted into the user's space (`fitted`): an axis it sets is clipped to
the axis' range (or its nearest list value), an axis of DEFAULTED it leaves unset takes
LightGBM's default (read from LightGBM, `lightgbm_params.default_value`) the same way, and the
rest of the space its middle. Pure: no Spark, no Optuna sampling.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution

from spark_lgbm_tuning.vocabulary.lightgbm_params import default_value, spellings


@dataclass(frozen=True)
class DataFacts:
    """What the portfolio's order reads of the data (FLAML's meta-features): rows, feature
    columns, classes (0 for regression) and the share of numeric features."""

    rows: int
    features: int
    classes: int
    numeric_share: float

    def meta_features(self) -> tuple[float, float, float, float]:
        return (self.rows, self.features, self.classes, self.numeric_share)


@dataclass(frozen=True)
class Configuration:
    """One portfolio configuration: its name and LightGBM values (empty: LightGBM's defaults)."""

    name: str
    values: Mapping[str, float]


@dataclass(frozen=True)
class Portfolio:
    """One task's configurations, FLAML's neighbours (normalised meta-features, preference
    order) and its normalisation (center, scale) of the meta-features."""

    configurations: tuple[Configuration, ...]
    neighbours: tuple[tuple[tuple[float, ...], tuple[int, ...]], ...]
    center: tuple[float, ...]
    scale: tuple[float, ...]

    def ordered(self, data: DataFacts) -> list[Configuration]:
        """The nearest neighbour's preference order (the first neighbour listed on a tie), then
        the configurations it leaves out, in portfolio order."""
        point = [
            (value - center) / scale
            for value, center, scale in zip(
                data.meta_features(), self.center, self.scale, strict=True
            )
        ]
        _, preference = min(self.neighbours, key=lambda neighbour: math.dist(point, neighbour[0]))
        indices = [
            *preference,
            *(i for i in range(len(self.configurations)) if i not in preference),
        ]
        return [self.configurations[index] for index in indices]


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
# The parameters a space usually tunes whose unset value is LightGBM's default (read from
# LightGBM, `lightgbm_params.default_value`); any other axis an entry leaves unset takes its
# middle.
DEFAULTED = frozenset(
    {
        "num_leaves",
        "max_depth",
        "learning_rate",
        "min_data_in_leaf",
        "min_sum_hessian_in_leaf",
        "feature_fraction",
        "bagging_fraction",
        "bagging_freq",
        "lambda_l1",
        "lambda_l2",
        "min_gain_to_split",
        "max_bin",
    }
)

# name, values in VALUE_NAMES' order (None: LightGBM's defaults), in FLAML's portfolio order:
# the neighbours' preferences below are indices into these.
# fmt: off
_CLASSIFICATION = (
    ("flaml_binary_0", (1667, 29, 0.0016661, 255, 0.51571, 0.045793, 0.0012363)),
    ("flaml_binary_1", (139, 8, 0.048247, 511, 0.52614, 0.0028969, 0.024463)),
    ("flaml_binary_2", (4, 3, 0.0090340, 1023, 0.53933, 15.800, 34.825)),
    ("flaml_binary_3", (1208, 8, 0.020707, 15, 0.37916, 0.0029826, 1.1366)),
    (LIGHTGBM_DEFAULTS, None),
)
_MULTICLASS = (
    ("flaml_multiclass_0", (225, 21, 0.10182, 31, 0.61036, 0.00097656, 40.414)),
    ("flaml_multiclass_1", (155, 4, 0.040942, 31, 0.53263, 0.74087, 0.54677)),
    ("flaml_multiclass_2", (16, 52, 0.24228, 127, 1.0, 0.034332, 0.038705)),
    ("flaml_multiclass_3", (106, 49, 0.0071462, 127, 0.46948, 0.37429, 23.640)),
    ("flaml_multiclass_4", (58, 2, 0.022731, 31, 0.56209, 0.0031615, 0.021751)),
    ("flaml_multiclass_5", (371, 71, 0.017966, 1023, 0.90021, 0.48644, 0.024139)),
    ("flaml_multiclass_6", (24, 53, 0.019317, 63, 0.39557, 0.0013785, 0.046444)),
    ("flaml_multiclass_7", (11, 94, 0.062768, 63, 0.63419, 0.58110, 43.305)),
    (LIGHTGBM_DEFAULTS, None),
)
_REGRESSION = (
    ("flaml_regression_0", (122, 2, 0.022636, 511, 0.70199, 0.0042522, 0.11288)),
    ("flaml_regression_1", (42, 12, 0.021672, 127, 0.73850, 0.0036072, 12.083)),
    ("flaml_regression_2", (372, 4, 0.035173, 31, 1.0, 0.022711, 0.0019638)),
    (LIGHTGBM_DEFAULTS, None),
)
# (normalised rows, features, classes, numeric share), preference order
_CLASSIFICATION_NEIGHBOURS = (
    ((1.1965, 1.0923, 0.0, 0.4261), (4,)),
    ((11.0969, -0.1615, 0.0, -0.5739), (0, 1, 3, 2, 4)),
    ((8.6582, 0.3846, 0.0, -0.7406), (2, 1, 0, 3, 4)),
    ((0.2728, -0.1462, 0.0, -1.3239), (0, 1, 4)),
    ((-0.4126, -0.1077, 0.0, -0.5739), (3, 1, 0, 2, 4)),
    ((0.641, 1.5538, 0.0, 0.0), (2, 0, 1, 4)),
    ((2.3516, 0.1692, 0.0, 0.4261), (2, 0, 3, 1, 4)),
    ((0.6162, -0.1077, 0.0, -0.5739), (1, 4)),
    ((0.5386, -0.0923, 0.0, -0.5583), (1, 0, 4)),
    ((-0.4113, -0.1846, 0.0, 0.4261), (3, 2, 4)),
    ((-0.3116, 12.3692, 0.0, 0.3865), (2, 3, 0, 1, 4)),
    ((-0.4059, -0.0615, 0.0, -0.7114), (1, 0, 4)),
    ((0.0, 32.8308, 0.0, 0.4261), (0, 1, 3, 2, 4)),
    ((1.6676, 0.0, 0.0, 0.4261), (0, 1, 4)),
    ((-0.3636, 0.8923, 0.0, -1.2267), (3, 4)),
    ((-0.3823, -0.0538, 0.0, 0.4261), (3, 1, 0, 4)),
    ((-0.359, 0.0615, 0.0, -1.3239), (4,)),
    ((0.309, 0.6923, 0.0, -0.004), (1, 3, 4)),
    ((-0.3119, -0.1769, 0.0, 0.4261), (1, 4)),
    ((0.0, 32.8308, 0.0, 0.4261), (0, 1, 3, 4)),
    ((-0.3178, -0.0615, 0.0, 0.4261), (1, 0, 4)),
)
_MULTICLASS_NEIGHBOURS = (
    ((8.2179, 0.0, 0.0, -0.8148), (5, 1, 0, 3, 2, 7, 4, 8)),
    ((5.6918, 0.0078, 58.0, 0.0), (0, 2, 4, 7, 6, 8)),
    ((0.3859, 0.953, 0.5, 0.0), (3, 7, 0, 4, 1, 8)),
    ((0.3123, -0.0352, 15.5, 0.0), (3, 0, 7, 6, 1, 4, 5, 2, 8)),
    ((0.5964, 0.0, -0.5, 0.0), (3, 0, 7, 4, 8)),
    ((-0.5337, 9.329, 0.5, 0.0), (3, 0, 4, 1, 2, 7, 6, 8)),
    ((0.202, -0.0587, 0.0, 0.0), (4, 6, 1, 7, 5, 3, 0, 2, 8)),
    ((0.2068, 0.1645, 0.5, 0.0), (3, 0, 1, 5, 7, 4, 8)),
    ((-0.6604, -0.0627, -0.5, -1.0), (8,)),
    ((-0.6704, 1.047, 0.3333, 0.0), (4, 1, 8)),
    ((0.3485, -0.0157, -0.6667, -1.0), (1, 5, 2, 3, 0, 8)),
    ((-0.5337, 2.5405, -0.3333, 0.0), (2, 8)),
    ((-0.5607, 0.9739, 0.0, 0.0), (4, 1, 8)),
    ((0.0, -0.0627, -0.6667, 0.0), (2, 1, 5, 8)),
    ((-0.6563, 0.2115, 0.5, 0.0), (2, 6, 7, 5, 3, 1, 4, 8)),
    ((-0.6515, -0.0496, 0.0, 0.0), (6, 1, 3, 7, 5, 4, 0, 2, 8)),
    ((-0.674, -0.047, -0.5, 0.0), (6, 7, 3, 1, 0, 4, 5, 8)),
)
_REGRESSION_NEIGHBOURS = (
    ((0.0, 0.0, 0.0, 0.0), (3,)),
    ((-0.1726, 10.0, 0.0, 0.0), (1, 0, 3)),
    ((6.129, -0.3333, 0.0, -1.0), (1, 3)),
    ((0.4848, -0.3333, 0.0, -2.6667), (1, 3)),
    ((-0.1487, -0.3333, 0.0, -1.0), (1, 3)),
    ((-0.0618, -0.3333, 0.0, -2.3333), (3,)),
    ((6.129, 2.6667, 0.0, -1.3333), (0, 1, 2, 3)),
    ((6.129, 0.0, 0.0, -2.7), (1, 3)),
    ((0.8714, 0.0, 0.0, 0.0), (1, 3)),
    ((-0.1922, 0.6667, 0.0, -1.0), (0, 3)),
    ((0.0, 0.0, 0.0, 0.0), (1, 0, 3)),
    ((-0.1149, 2.0, 0.0, 0.0), (1, 3)),
    ((-0.1149, -0.6667, 0.0, 0.0), (3,)),
    ((-0.1286, -0.6667, 0.0, 0.0), (0, 1, 3)),
    ((0.0, 0.0, 0.0, -0.9), (3,)),
    ((6.2888, 0.0, 0.0, 0.0), (2, 0, 1, 3)),
    ((-0.1646, 12.6667, 0.0, 0.0), (0, 3)),
)
# fmt: on


def _portfolio(configurations: tuple, neighbours: tuple, center: tuple, scale: tuple) -> Portfolio:
    return Portfolio(
        tuple(
            Configuration(name, dict(zip(VALUE_NAMES, values, strict=True)) if values else {})
            for name, values in configurations
        ),
        neighbours,
        center,
        scale,
    )


# Task -> its portfolio; center and scale are FLAML's `preprocessing` of each file.
PORTFOLIOS: dict[str, Portfolio] = {
    "classification": _portfolio(
        _CLASSIFICATION,
        _CLASSIFICATION_NEIGHBOURS,
        (18_000, 28, 2, 0.75652),
        (42_124, 130, 1, 0.57143),
    ),
    "multiclass": _portfolio(
        _MULTICLASS, _MULTICLASS_NEIGHBOURS, (40_337, 54, 7, 1.0), (58_722, 766, 6, 1.0)
    ),
    "regression": _portfolio(
        _REGRESSION, _REGRESSION_NEIGHBOURS, (36_691, 10, 0, 1.0), (140_856, 3, 1, 0.33333)
    ),
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
            value = default_value(axis) if names & DEFAULTED else None
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
