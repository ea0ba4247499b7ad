"""The Optuna side of an adaptive search: the space's distributions and its cheapest start."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from spark_lgbm_tuning.pipelines.tuning.strategies import (
    cheap_start,
    distributions,
    make_sampler,
)
from tests.pipelines.tuning.data import tuning_params


def test_ranges_become_int_or_float_distributions_and_lists_categorical():
    params = tuning_params(
        grid={
            "num_leaves": {"low": 4, "high": 64, "log": True, "int": True},
            "learning_rate": {"low": 0.01, "high": 0.3},
            "min_child_samples": [5, 20],
        },
        search={"strategy": "random", "n_combinations": 3},
    )
    space = distributions(params)
    assert space["num_leaves"] == IntDistribution(4, 64, log=True)
    assert space["learning_rate"] == FloatDistribution(0.01, 0.3)
    assert space["min_child_samples"] == CategoricalDistribution([5, 20])


def test_the_cheap_start_takes_each_costly_axis_at_its_cheap_end_and_the_rest_mid_range():
    space = {
        "num_leaves": IntDistribution(15, 2048, log=True),
        "max_depth": CategoricalDistribution([-1, 17, 10]),  # -1: no limit, the deepest
        "eta": FloatDistribution(0.02, 0.05, log=True),  # learning_rate's alias
        "min_child_samples": IntDistribution(5, 100),
        "lambda_l1": FloatDistribution(0.1, 40.0, log=True),
        "colsample_bytree": FloatDistribution(0.1, 0.9),
        "bagging_freq": IntDistribution(0, 5),
        "boosting": CategoricalDistribution(["gbdt", "dart", "goss"]),
    }
    start = cheap_start(space)
    assert start["num_leaves"] == 15 and start["max_depth"] == 10 and start["eta"] == 0.05
    assert start["min_child_samples"] == 100
    assert start["lambda_l1"] == pytest.approx(math.sqrt(0.1 * 40.0))  # geometric middle
    assert start["colsample_bytree"] == pytest.approx(0.5)
    assert start["bagging_freq"] in {2, 3} and isinstance(start["bagging_freq"], int)
    assert start["boosting"] == "dart"  # no cost end: the middle choice
    for name, value in start.items():
        assert space[name]._contains(space[name].to_internal_repr(value))


def test_tpe_models_the_results_after_search_startup_trials_random_proposals():
    def next_proposal(startup_trials: int) -> float:
        params = tuning_params(
            grid={"learning_rate": {"low": 0.01, "high": 0.3}},
            search={"strategy": "tpe", "n_combinations": 9, "startup_trials": startup_trials},
        )
        study = optuna.create_study(direction="maximize")
        space = distributions(params)
        for value in (0.02, 0.05, 0.1, 0.2, 0.25):
            study.add_trial(
                optuna.trial.create_trial(
                    params={"learning_rate": value}, distributions=space, value=-abs(value - 0.1)
                )
            )
        study.sampler = make_sampler(params, 5)
        return study.ask(space).params["learning_rate"]

    # Same seed: 8 still draws at random (5 results), 2 models them; a setting ignored would
    # make both the same random draw.
    assert next_proposal(2) != next_proposal(8)
    assert next_proposal(8) == next_proposal(8)
