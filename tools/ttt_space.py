"""Time-to-target sizes and search spaces: the grid, the ranges that enclose it, each peer's form.

One space per size: `grid` (lists, what `strategy: grid` runs and what sets the target) and
`ranges` (what the adaptive methods and the peers sample; every grid value lies inside them).
A range is `{low, high, log, int}` as `tuning.grid` takes it; a list stays categorical.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# Sizes of the comparison. The seed-like space (wide num_leaves, max_depth, colsample_bytree,
# lambda_l1/l2, a low learning rate, a round cap) makes trials long and very unequal, which is
# what adaptive search is meant to exploit.
SEED_LIKE_GRID: dict[str, list[Any]] = {
    "num_leaves": [31, 255, 2048],
    "max_depth": [8, 16],
    "colsample_bytree": [0.1, 0.5],
    "lambda_l1": [0.3, 12.0],
    "lambda_l2": [1.0],
    "learning_rate": [0.05],
}
SEED_LIKE_RANGES: dict[str, Any] = {
    "num_leaves": {"low": 15, "high": 2048, "log": True, "int": True},
    "max_depth": {"low": 4, "high": 16, "int": True},
    "colsample_bytree": {"low": 0.1, "high": 0.9},
    "lambda_l1": {"low": 0.1, "high": 30.0, "log": True},
    "lambda_l2": {"low": 0.1, "high": 30.0, "log": True},
    "learning_rate": {"low": 0.03, "high": 0.1, "log": True},
}
# The issue's measured 36-combination grid (17 min on 2 cores at 100k x 100, cap 1000).
ISSUE_GRID: dict[str, list[Any]] = {
    "num_leaves": [31, 255, 2048],
    "learning_rate": [0.03, 0.1],
    "colsample_bytree": [0.1, 0.4, 0.8],
    "lambda_l1": [0.3, 12.0],
}
ISSUE_RANGES: dict[str, Any] = {
    "num_leaves": {"low": 31, "high": 2048, "log": True, "int": True},
    "learning_rate": {"low": 0.03, "high": 0.1, "log": True},
    "colsample_bytree": {"low": 0.1, "high": 0.8},
    "lambda_l1": {"low": 0.3, "high": 12.0, "log": True},
}

# The seed's kind of space (issue 23): its learning rate 0.03 (a range around it), num_leaves up
# to 2048, colsample_bytree down to 0.1, L1 up to 40, max_depth as the seed's; with a long cap
# and patience (TTT_SIZES["seed"]) learning curves cross: early rounds misrank capacities.
SEED_SHAPED_GRID: dict[str, list[Any]] = {
    "num_leaves": [63, 2048],
    "max_depth": [10, 17],
    "colsample_bytree": [0.1, 0.4],
    "lambda_l1": [0.3, 40.0],
    "learning_rate": [0.03],
}
SEED_SHAPED_RANGES: dict[str, Any] = {
    "num_leaves": {"low": 15, "high": 2048, "log": True, "int": True},
    "max_depth": {"low": 4, "high": 17, "int": True},
    "colsample_bytree": {"low": 0.1, "high": 0.9},
    "lambda_l1": {"low": 0.1, "high": 40.0, "log": True},
    "learning_rate": {"low": 0.02, "high": 0.05, "log": True},
}


@dataclass(frozen=True)
class TttSize:
    """Data, space and run size of one time-to-target comparison."""

    rows: int
    features: int
    grid: dict[str, list[Any]]
    ranges: dict[str, Any]
    num_boost_round: int
    early_stopping_rounds: int
    seeds: tuple[int, ...]
    folds: int = 4
    # Each non-grid method may run for this many times the grid's wall of the same seed.
    budget_factor: float = 1.0
    notes: str = ""
    # `tuning.search.round_pruning` of the *_asha methods beside rule asha (the rest from
    # conf/base: eta 3, min_rounds 100, min_trials 4, margin 0.002, which kept the winner in
    # the offline replay of the seed size, docs/benchmarks/rung-replay-seed-4k-*).
    round_pruning: dict[str, Any] = field(default_factory=dict)
    # The multi-dataset comparison (issue 31): SYNTHETIC_ROWS names and ttt_datasets.
    # REAL_DATASETS names, each judged against its best-known score; empty: the one synthetic
    # table of `rows` x `features`, judged against the grid (the sizes before issue 31).
    datasets: tuple[str, ...] = ()


# The seed-shaped synthetic table by name: rows (its features are the size's).
SYNTHETIC_ROWS = {"seed15k": 15_000, "seed100k": 100_000, "seed3k": 3_000}
# A small space for the multi-dataset sizes: 8 combinations whose trials differ in cost (leaves,
# column share, L1), a moderate learning rate, and ranges around them.
MULTI_GRID: dict[str, list[Any]] = {
    "num_leaves": [15, 255],
    "colsample_bytree": [0.3, 0.8],
    "lambda_l1": [0.1, 10.0],
    "learning_rate": [0.1],
}
MULTI_RANGES: dict[str, Any] = {
    "num_leaves": {"low": 7, "high": 512, "log": True, "int": True},
    "colsample_bytree": {"low": 0.2, "high": 0.9},
    "lambda_l1": {"low": 0.01, "high": 30.0, "log": True},
    "learning_rate": {"low": 0.03, "high": 0.2, "log": True},
}


TTT_SIZES = {
    # A smoke run of every method (< 3 minutes on 2 cores) and the tests' size.
    "tiny": TttSize(
        rows=3000,
        features=10,
        grid={"num_leaves": [7, 31], "learning_rate": [0.05, 0.2]},
        ranges={
            "num_leaves": {"low": 4, "high": 64, "log": True, "int": True},
            "learning_rate": {"low": 0.02, "high": 0.3, "log": True},
        },
        num_boost_round=60,
        early_stopping_rounds=10,
        seeds=(1,),
        notes="smoke run: proves the code path, says nothing about speed",
        # Rungs at 10 and 30 of the 60-round cap; 4 combinations: a rung prunes from the 2nd.
        round_pruning={"min_rounds": 10, "min_trials": 2},
    ),
    # The whole comparison (6 methods x 5 seeds) in about an hour on 2 cores (estimated from
    # the issue's 17 min for 36 combinations at 100k rows and cap 1000: ~2 min per grid run).
    "hour": TttSize(
        rows=30_000,
        features=100,
        grid=SEED_LIKE_GRID,
        ranges=SEED_LIKE_RANGES,
        num_boost_round=400,
        early_stopping_rounds=50,
        seeds=(1, 2, 3, 4, 5),
    ),
    # The seed's kind of space (issue 23), every method x 5 seeds in about 90 minutes on 2 cores:
    # estimated, not yet run, from one-thread fits at 6k rows (0.2-3.7 CPU-s per trial, ~1.5 on
    # average) scaled to 15k rows: ~64 trials x ~4 CPU-s, a grid wall of ~2.5 min, and 7
    # methods within the grid's wall each per seed.
    "seed": TttSize(
        rows=15_000,
        features=30,
        grid=SEED_SHAPED_GRID,
        ranges=SEED_SHAPED_RANGES,
        num_boost_round=3000,
        early_stopping_rounds=200,
        seeds=(1, 2, 3, 4, 5),
        notes="the seed's kind of space: learning rate 0.03, patience 200, cap 3000",
    ),
    # Issue 31's benchmark of record: 4 datasets x 3 seeds x the default MULTI_METHODS on 2
    # cores in about 40 minutes, estimated (not yet run at this size) from the tiny run's
    # ~25 s of Kedro and Spark start-up per kedro run and a grid wall of ~15-60 s per dataset
    # (8 combinations x 4 folds, cap 400, patience 30; seed100k the longest): ~12 rounds x
    # (4 kedro runs + 4 peers) x ~45 s + the real tables' preparation runs.
    "multi": TttSize(
        rows=15_000,
        features=30,
        grid=MULTI_GRID,
        ranges=MULTI_RANGES,
        num_boost_round=400,
        early_stopping_rounds=30,
        seeds=(1, 2, 3),
        notes="issue 31: the best model, not the grid's; 4 datasets, best-known targets",
        round_pruning={"min_rounds": 30, "min_trials": 4},
        datasets=("seed15k", "seed100k", "electricity", "adult"),
    ),
    # The multi-dataset code path at the smallest size: a smoke run and the tests' size.
    "multi_tiny": TttSize(
        rows=3000,
        features=10,
        grid={"num_leaves": [7, 31], "learning_rate": [0.05, 0.2]},
        ranges={
            "num_leaves": {"low": 4, "high": 64, "log": True, "int": True},
            "learning_rate": {"low": 0.02, "high": 0.3, "log": True},
        },
        num_boost_round=60,
        early_stopping_rounds=10,
        seeds=(1, 2),
        notes="smoke run of the multi-dataset path: proves the code path, says nothing of speed",
        round_pruning={"min_rounds": 10, "min_trials": 2},
        datasets=("seed3k", "electricity", "adult"),
    ),
    # The larger single-seed run that shows the ranking holds (the issue's grid and data).
    "large": TttSize(
        rows=100_000,
        features=100,
        grid=ISSUE_GRID,
        ranges=ISSUE_RANGES,
        num_boost_round=1000,
        early_stopping_rounds=50,
        seeds=(1,),
    ),
}


def is_range(value: Any) -> bool:
    return isinstance(value, dict)


def check_encloses(grid: dict[str, list[Any]], ranges: dict[str, Any]) -> None:
    """Raise ValueError unless every grid axis is in `ranges` and each value lies inside it."""
    missing = sorted(set(grid) - set(ranges))
    if missing:
        raise ValueError(f"the ranges lack the grid axes {missing}")
    for name, values in grid.items():
        space = ranges[name]
        outside = [
            value
            for value in values
            if (is_range(space) and not space["low"] <= value <= space["high"])
            or (not is_range(space) and value not in space)
        ]
        if outside:
            raise ValueError(f"grid.{name} values {outside} lie outside the range {space}")


def cast(ranges: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """A sampled config with int ranges as ints (hyperopt's q-distributions return floats)."""
    return {
        name: int(round(value)) if is_range(ranges.get(name)) and ranges[name].get("int") else value
        for name, value in config.items()
    }


def hyperopt_space(ranges: dict[str, Any]) -> dict[str, Any]:
    """The ranges as hyperopt distributions (q=1 for ints, log-uniform where `log`)."""
    from hyperopt import hp  # noqa: PLC0415 - a benchmark-only dependency (the bench extra)

    space = {}
    for name, spec in ranges.items():
        if not is_range(spec):
            space[name] = hp.choice(name, list(spec))
        elif spec.get("int") and spec.get("log"):
            space[name] = hp.qloguniform(name, math.log(spec["low"]), math.log(spec["high"]), 1)
        elif spec.get("int"):
            space[name] = hp.quniform(name, spec["low"], spec["high"], 1)
        elif spec.get("log"):
            space[name] = hp.loguniform(name, math.log(spec["low"]), math.log(spec["high"]))
        else:
            space[name] = hp.uniform(name, spec["low"], spec["high"])
    return space


def flaml_space(ranges: dict[str, Any]) -> dict[str, Any]:
    """The ranges as FLAML tune domains (its randint upper bounds are exclusive)."""
    from flaml import tune  # noqa: PLC0415 - a benchmark-only dependency (the bench extra)

    space = {}
    for name, spec in ranges.items():
        if not is_range(spec):
            space[name] = tune.choice(list(spec))
        elif spec.get("int"):
            sampler = tune.lograndint if spec.get("log") else tune.randint
            space[name] = sampler(spec["low"], spec["high"] + 1)
        else:
            sampler = tune.loguniform if spec.get("log") else tune.uniform
            space[name] = sampler(spec["low"], spec["high"])
    return space


def optuna_suggest(trial: Any, ranges: dict[str, Any]) -> dict[str, Any]:
    """One config from an Optuna trial over the ranges."""
    config = {}
    for name, spec in ranges.items():
        if not is_range(spec):
            config[name] = trial.suggest_categorical(name, list(spec))
        elif spec.get("int"):
            config[name] = trial.suggest_int(
                name, spec["low"], spec["high"], log=bool(spec.get("log"))
            )
        else:
            config[name] = trial.suggest_float(
                name, spec["low"], spec["high"], log=bool(spec.get("log"))
            )
    return config
