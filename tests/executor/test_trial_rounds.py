"""Shared boosting runs (num_boost_round caps), fixed rounds and the benchmark's levers."""

from __future__ import annotations

import dataclasses
import json

import lightgbm as lgb
import numpy as np
import pytest

from spark_lgbm_tuning.executor import fold_data, scoring, trial
from spark_lgbm_tuning.executor.trial_spec import TrialSpec
from spark_lgbm_tuning.vocabulary import lightgbm_params
from tests.pipelines.tuning.data import model_input

FEATURES = [f"feature_{i}" for i in range(5)]
SCORED = ("accuracy", "precision", "recall", "f1", "auc_roc", "logloss", "best_iteration")
PARAMS = {
    "objective": "binary",
    "metric": "binary_logloss",
    "num_leaves": 7,
    "learning_rate": 0.2,
    "min_child_samples": 10,
    "seed": 1,
    "verbosity": -1,
    "num_threads": 1,
    "feature_pre_filter": False,
}


@pytest.fixture(scope="module")
def arrays():
    data = model_input(n_rows=900)
    x = data[FEATURES].to_numpy(dtype=np.float32)
    y = data["target"].to_numpy(dtype=np.float64)
    return x[:600], y[:600], x[600:], y[600:]


def _spec(rounds: int, early_stopping_rounds: int | None, **changes) -> TrialSpec:
    spec = TrialSpec(
        trial_id=f"t{rounds}",
        combo_id=f"c{rounds}",
        fold_id=0,
        task="classification",
        params=dict(PARAMS),
        grid_values={"num_leaves": PARAMS["num_leaves"], "num_boost_round": rounds},
        num_boost_round=rounds,
        early_stopping_rounds=early_stopping_rounds,
        n_train=600,
    )
    return dataclasses.replace(spec, **changes)


def _scores(row):
    return {name: row[name] for name in SCORED}


@pytest.mark.parametrize("early_stopping_rounds", [None, 0, 3])
def test_a_shared_run_scores_each_cap_as_its_own_run(arrays, early_stopping_rounds):
    caps = [4, 25, 200]
    fold = fold_data.fold_from_arrays(*arrays, PARAMS)
    shared = trial.run_group([_spec(cap, early_stopping_rounds) for cap in caps], fold)
    for cap, row in zip(caps, shared, strict=True):
        alone = trial.run_trial(_spec(cap, early_stopping_rounds), fold)
        assert row["status"] == alone["status"] == "ok"
        assert _scores(row) == _scores(alone)
    assert [row["fit_s"] > 0 for row in shared] == [False, False, True]
    if early_stopping_rounds:
        # The largest cap stopped early: the shared run must have seen the stop.
        assert shared[-1]["best_iteration"] < 200
    else:
        assert [row["best_iteration"] for row in shared] == caps


def test_fixed_rounds_equal_a_plain_fit_predicted_at_the_cap(arrays):
    x_train, y_train, x_test, y_test = arrays
    row = trial.run_trial(_spec(40, None), fold_data.fold_from_arrays(*arrays, PARAMS))
    booster = lgb.train(
        PARAMS, lgb.Dataset(x_train, y_train, params=lightgbm_params.dataset_params(PARAMS)), 40
    )
    expected = scoring.classification_metrics(y_test, booster.predict(x_test))
    assert row["best_iteration"] == 40
    assert {name: row[name] for name in lightgbm_params.CLASSIFICATION_METRICS} == {
        name: expected[name] for name in lightgbm_params.CLASSIFICATION_METRICS
    }


@pytest.mark.parametrize("early_stopping_rounds", [None, 3])
def test_predicting_again_gives_the_validation_scores(arrays, early_stopping_rounds):
    fold = fold_data.fold_from_arrays(*arrays, PARAMS)
    specs = [_spec(cap, early_stopping_rounds) for cap in (10, 60)]
    recorded = trial.run_group(specs, fold)
    off = frozenset({"validation_scores"})
    predicted = trial.run_group([dataclasses.replace(s, disabled_levers=off) for s in specs], fold)
    for ours, again in zip(recorded, predicted, strict=True):
        assert ours["best_iteration"] == again["best_iteration"]
        for name in lightgbm_params.CLASSIFICATION_METRICS:
            assert ours[name] == pytest.approx(again[name], rel=1e-12, abs=1e-12)


def test_a_failing_shared_run_fails_every_cap(arrays):
    params = {**PARAMS, "num_leaves": -1}
    fold = fold_data.fold_from_arrays(*arrays, PARAMS)
    rows = trial.run_group([_spec(cap, None, params=params) for cap in (5, 10)], fold)
    assert [row["status"] for row in rows] == ["failed", "failed"]
    assert all("num_leaves" in row["error"] for row in rows)


RUNGS = (10, 30)


def _rung_score(row, rung: int) -> float:
    return json.loads(row["rung_scores"])[str(rung)]


@pytest.mark.parametrize("early_stopping_rounds", [None, 20])
def test_a_trial_worse_than_its_rung_threshold_stops_there(arrays, early_stopping_rounds):
    fold = fold_data.fold_from_arrays(*arrays, PARAMS)
    # The first trials of a fold carry no thresholds: they note their rung scores and run on.
    free = trial.run_trial(_spec(100, early_stopping_rounds, rungs=RUNGS), fold)
    assert free["status"] == "ok" and free["pruned_at_round"] is None
    assert free["rung_metric"] == "binary_logloss"
    assert set(json.loads(free["rung_scores"])) == {"10", "30"}

    # Logloss is lower-is-better: a threshold just below its score at round 30 stops it there.
    score = _rung_score(free, 30)
    pruned = trial.run_trial(
        _spec(
            100, early_stopping_rounds, rungs=RUNGS, rung_thresholds=((10, 1.0), (30, score - 1e-9))
        ),
        fold,
    )
    assert pruned["status"] == "pruned" and pruned["pruned_at_round"] == 30
    assert pruned["rung_scores"] == free["rung_scores"]
    # Scored at the stop, as a run capped at the rung would be.
    capped = trial.run_trial(_spec(30, early_stopping_rounds), fold)
    assert _scores(pruned) == _scores(capped)
    assert pruned["best_iteration"] <= 30 < free["best_iteration"]


def test_rungs_read_the_metric_when_fixed_rounds_predict_again(arrays):
    fold = fold_data.fold_from_arrays(*arrays, PARAMS)
    off = frozenset({"validation_scores"})
    free = trial.run_trial(_spec(100, None, rungs=RUNGS, disabled_levers=off), fold)
    thresholds = ((10, _rung_score(free, 10) - 1e-9),)
    spec = _spec(100, None, rungs=RUNGS, rung_thresholds=thresholds, disabled_levers=off)
    pruned = trial.run_trial(spec, fold)
    assert (pruned["status"], pruned["pruned_at_round"], pruned["best_iteration"]) == (
        "pruned",
        10,
        10,
    )
    assert _scores(pruned) == _scores(trial.run_trial(_spec(10, None), fold))


def test_a_trial_as_good_as_its_rung_threshold_goes_on(arrays):
    fold = fold_data.fold_from_arrays(*arrays, PARAMS)
    free = trial.run_trial(_spec(100, 20, rungs=RUNGS), fold)
    thresholds = tuple((rung, _rung_score(free, rung)) for rung in RUNGS)
    kept = trial.run_trial(_spec(100, 20, rungs=RUNGS, rung_thresholds=thresholds), fold)
    assert kept["status"] == "ok" and kept["pruned_at_round"] is None
    assert _scores(kept) == _scores(free)


@pytest.mark.parametrize("early_stopping_rounds", [None, 20])
def test_a_pruned_shared_run_prunes_only_the_caps_beyond_the_rung(arrays, early_stopping_rounds):
    fold = fold_data.fold_from_arrays(*arrays, PARAMS)
    free = trial.run_trial(_spec(100, early_stopping_rounds, rungs=RUNGS), fold)
    thresholds = ((30, _rung_score(free, 30) - 1e-9),)
    caps = [20, 30, 100]
    rows = trial.run_group(
        [
            _spec(cap, early_stopping_rounds, rungs=RUNGS, rung_thresholds=thresholds)
            for cap in caps
        ],
        fold,
    )
    assert [row["status"] for row in rows] == ["ok", "ok", "pruned"]
    assert [row["pruned_at_round"] for row in rows] == [None, None, 30]
    # A trial notes the rungs its own cap reached, no further.
    assert [sorted(json.loads(row["rung_scores"])) for row in rows] == [
        ["10"],
        ["10", "30"],
        ["10", "30"],
    ]
    for cap, row in zip(caps[:2], rows, strict=False):
        assert _scores(row) == _scores(trial.run_trial(_spec(cap, early_stopping_rounds), fold))
