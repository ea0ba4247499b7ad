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
def test_each_configuration_is_first_for_the_data_of_its_own_home(task):
    portfolio = PORTFOLIOS[task]
    for configuration in portfolio.configurations:
        assert portfolio.ordered(configuration.home)[0] == configuration
    names = [configuration.name for configuration in portfolio.configurations]
    assert LIGHTGBM_DEFAULTS in names and len(set(names)) == len(names)


def test_the_order_follows_the_data_rows_features_and_numeric_share():
    binary = PORTFOLIOS["classification"]
    # FLAML's heavy-regularisation, 4-leaf configuration was mined on large, wide tables.
    assert binary.ordered(DataFacts(80_000, 150, 0.9))[0].name == "flaml_binary_2"
    # A small table of mixed columns gets the configuration mined on small tables.
    assert binary.ordered(DataFacts(1_000, 15, 0.7))[0].name == "flaml_binary_3"
    assert binary.ordered(DataFacts(1_000, 15, 0.7)) != binary.ordered(DataFacts(80_000, 150, 0.9))


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
    data = DataFacts(15_000, 30, 1.0)
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
