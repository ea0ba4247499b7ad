"""The time-to-target spaces: ranges enclose the grid; each library samples inside the ranges."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from hyperopt import pyll

from tools.ttt_space import (
    TTT_SIZES,
    cast,
    check_encloses,
    flaml_space,
    hyperopt_space,
    optuna_suggest,
)

RANGES = {
    "num_leaves": {"low": 4, "high": 64, "log": True, "int": True},
    "max_depth": {"low": 3, "high": 9, "int": True},
    "learning_rate": {"low": 0.02, "high": 0.3, "log": True},
    "colsample_bytree": {"low": 0.1, "high": 0.9},
    "boosting": ["gbdt", "dart"],
}


def _inside(config: dict) -> None:
    for name, spec in RANGES.items():
        if isinstance(spec, dict):
            assert spec["low"] <= config[name] <= spec["high"], (name, config[name])
            assert isinstance(config[name], int) == bool(spec.get("int")), (name, config[name])
        else:
            assert config[name] in spec


@pytest.mark.parametrize("name", sorted(TTT_SIZES))
def test_every_sizes_ranges_enclose_its_grid(name):
    size = TTT_SIZES[name]
    check_encloses(size.grid, size.ranges)
    assert len(size.seeds) >= (5 if name == "hour" else 1)


def test_a_grid_value_outside_the_ranges_is_named():
    with pytest.raises(ValueError, match=r"grid.num_leaves values \[128\] lie outside"):
        check_encloses({"num_leaves": [8, 128]}, RANGES)
    with pytest.raises(ValueError, match=r"lack the grid axes \['lambda_l1'\]"):
        check_encloses({"lambda_l1": [1.0]}, RANGES)
    with pytest.raises(ValueError, match=r"grid.boosting values \['goss'\]"):
        check_encloses({"boosting": ["goss"]}, RANGES)


def test_hyperopt_samples_lie_inside_the_ranges_with_ints_as_ints():
    space = hyperopt_space(RANGES)
    rng = np.random.default_rng(0)
    for _ in range(200):
        _inside(cast(RANGES, pyll.stochastic.sample(space, rng=rng)))


def test_flaml_samples_lie_inside_the_ranges(spark):
    # Importing FLAML calls SparkSession.builder.getOrCreate(): the test session must exist
    # first, or FLAML's default session would replace it for every later test.
    space = flaml_space(RANGES)
    rng = np.random.default_rng(0)
    for _ in range(200):
        config = {name: domain.sample(random_state=rng) for name, domain in space.items()}
        _inside(cast(RANGES, {name: _python(value) for name, value in config.items()}))


def test_optuna_samples_lie_inside_the_ranges():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(100):
        _inside(optuna_suggest(study.ask(), RANGES))


def test_the_ranges_edges_are_reachable_for_int_ranges(spark):
    """FLAML's randint bounds are exclusive: the upper edge must still be sampled."""
    space = flaml_space({"max_depth": {"low": 3, "high": 4, "int": True}})
    rng = np.random.default_rng(1)
    values = {int(space["max_depth"].sample(random_state=rng)) for _ in range(50)}
    assert values == {3, 4}


def _python(value):
    return value.item() if hasattr(value, "item") else value


def test_the_seed_size_has_the_seeds_kind_of_space():
    """Issue 23's constraints: learning rate 0.03, patience >= 200, cap >= 3000, num_leaves up to
    2048, colsample_bytree down to 0.1, L1 up to 40, five seeds."""
    size = TTT_SIZES["seed"]
    ranges = size.ranges
    assert size.grid["learning_rate"] == [0.03]
    assert ranges["learning_rate"]["low"] <= 0.03 <= ranges["learning_rate"]["high"]
    assert size.early_stopping_rounds >= 200 and size.num_boost_round >= 3000
    assert max(size.grid["num_leaves"]) == ranges["num_leaves"]["high"] == 2048
    assert min(size.grid["colsample_bytree"]) == ranges["colsample_bytree"]["low"] == 0.1
    assert max(size.grid["lambda_l1"]) == ranges["lambda_l1"]["high"] == 40
    assert len(size.seeds) == 5
