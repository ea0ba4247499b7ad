"""search.start portfolio: the configurations' order by the data, and their fit into a space."""

from __future__ import annotations

import math

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from spark_lgbm_tuning.pipelines.tuning.portfolio import (
    LIGHTGBM_DEFAULTS,
    PORTFOLIOS,
    DataFacts,
    first_wave,
    fitted,
)

SEED_SHAPED_SPACE = {
    "num_leaves": IntDistribution(15, 2048, log=True),
    "max_depth": IntDistribution(4, 17),
    "colsample_bytree": FloatDistribution(0.1, 0.9),
    "lambda_l1": FloatDistribution(0.1, 40.0, log=True),
    "learning_rate": FloatDistribution(0.02, 0.05, log=True),
}


@pytest.mark.parametrize("task", sorted(PORTFOLIOS))
def test_every_configuration_is_listed_once_and_each_neighbours_preference_is_its_order(task):
    portfolio = PORTFOLIOS[task]
    names = [configuration.name for configuration in portfolio.configurations]
    assert LIGHTGBM_DEFAULTS in names and len(set(names)) == len(names)
    for features, preference in portfolio.neighbours:
        # Data exactly at a neighbour (normalisation undone) takes its preference first.
        rows, n_features, classes, share = (
            value * scale + center
            for value, center, scale in zip(
                features, portfolio.center, portfolio.scale, strict=True
            )
        )
        order = portfolio.ordered(DataFacts(rows, n_features, classes, share))
        assert sorted(c.name for c in order) == sorted(names)
        if sum(f == features for f, _ in portfolio.neighbours) == 1:  # not a duplicate point
            assert [portfolio.configurations.index(c) for c in order][: len(preference)] == list(
                preference
            )


def test_the_order_follows_the_data_as_flamls_zero_shot_does():
    binary = PORTFOLIOS["classification"]
    # FLAML's own choice (flaml.default, its nearest neighbour) for a 15k x 30 numeric table:
    # configuration 1 (139 leaves, learning rate 0.048), then 0, then LightGBM's defaults.
    order = [c.name for c in binary.ordered(DataFacts(15_000, 30, 2, 1.0))]
    assert order[:3] == ["flaml_binary_1", "flaml_binary_0", LIGHTGBM_DEFAULTS]
    # 100k rows: the configuration mined for large tables first.
    assert binary.ordered(DataFacts(100_000, 30, 2, 1.0))[0].name == "flaml_binary_0"


def test_a_configuration_is_clipped_into_the_space_and_defaults_fill_what_it_leaves_unset():
    values = {"num_leaves": 4, "min_data_in_leaf": 3, "feature_fraction": 0.54, "lambda_l1": 15.8}
    combination = fitted(values, SEED_SHAPED_SPACE)
    assert combination["num_leaves"] == 15  # 4 leaves, clipped to the range's low end
    assert combination["colsample_bytree"] == pytest.approx(0.54)  # feature_fraction's alias
    assert combination["lambda_l1"] == pytest.approx(15.8)
    assert combination["max_depth"] == 17  # unset: LightGBM's no limit, the deepest allowed
    assert combination["learning_rate"] == pytest.approx(0.05)  # unset: default 0.1, clipped
    assert isinstance(combination["num_leaves"], int) and isinstance(combination["max_depth"], int)


def test_list_axes_take_the_nearest_value_and_axes_lightgbm_has_no_default_for_their_middle():
    space = {
        "num_leaves": CategoricalDistribution([7, 63, 2048]),
        "max_depth": CategoricalDistribution([-1, 6]),
        "boosting": CategoricalDistribution(["gbdt", "dart", "goss"]),
        "scale_pos_weight": FloatDistribution(1.0, 9.0, log=True),
    }
    combination = fitted({"num_leaves": 139}, space)
    assert combination["num_leaves"] == 63  # nearest on a log scale (139/63 < 2048/139)
    assert combination["max_depth"] == -1  # no limit, which the list has
    assert combination["boosting"] == "dart"
    assert combination["scale_pos_weight"] == pytest.approx(3.0)  # geometric middle
    assert fitted({}, {"max_depth": CategoricalDistribution([4, 8])})["max_depth"] == 8


def test_the_first_wave_holds_one_distinct_combination_per_slot_in_the_datas_order():
    data = DataFacts(15_000, 30, 2, 1.0)
    wave = first_wave(SEED_SHAPED_SPACE, "classification", data, 3)
    expected = [
        fitted(configuration.values, SEED_SHAPED_SPACE)
        for configuration in PORTFOLIOS["classification"].ordered(data)[:3]
    ]
    assert wave == expected and len(wave) == 3
    # A space where every configuration fits to the same combination gives that one once.
    narrow = {"learning_rate": FloatDistribution(0.5, 0.6)}
    assert first_wave(narrow, "classification", data, 4) == [{"learning_rate": 0.5}]
    regression = first_wave(SEED_SHAPED_SPACE, "regression", data, 10)
    assert len(regression) == len(PORTFOLIOS["regression"].configurations)
    for combination in regression:
        assert 15 <= combination["num_leaves"] <= 2048
        assert not math.isnan(combination["lambda_l1"])
