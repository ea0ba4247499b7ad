"""Round-wise pruning on the driver: rung schedules and ASHA thresholds, with real trials."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from spark_lgbm_tuning.executor import fold_data, trial
from spark_lgbm_tuning.executor.trial_spec import TrialSpec
from spark_lgbm_tuning.pipelines.tuning.results import result_record
from spark_lgbm_tuning.pipelines.tuning.rungs import (
    RungLadder,
    fold_thresholds,
    rung_info,
    rung_rounds,
    smallest_folds,
)
from spark_lgbm_tuning.pipelines.tuning.search_params import RoundPruningParams
from tests.pipelines.tuning.data import model_input

FEATURES = [f"feature_{i}" for i in range(5)]
ASHA = RoundPruningParams(rule="asha", eta=2, min_rounds=10, min_trials=3, margin=0.0)
RUNGS = rung_rounds(ASHA, 100)


@pytest.mark.parametrize(
    ("rule", "max_rounds", "rungs"),
    [
        ({"rule": "asha", "eta": 3, "min_rounds": 100}, 1000, (100, 300, 900)),
        ({"rule": "asha", "eta": 3, "min_rounds": 100}, 900, (100, 300)),
        ({"rule": "asha", "eta": 1.5, "min_rounds": 1}, 6, (1, 2, 3, 5)),
        ({"rule": "asha", "eta": 2, "min_rounds": 500}, 500, ()),
        ({"rule": "none"}, 1000, ()),
    ],
)
def test_rungs_are_geometric_below_the_cap(rule, max_rounds, rungs):
    assert rung_rounds(RoundPruningParams.model_validate(rule), max_rounds) == rungs


def _record(fold_id, run, scores, status="ok", metric="auc"):
    return {
        "trial_id": f"{run}-{fold_id}-{status}",
        "fold_id": fold_id,
        "params_json": json.dumps({"run": run}),
        "status": status,
        "rung_metric": metric,
        "rung_scores": json.dumps({str(rung): score for rung, score in scores.items()}),
    }


def test_a_rung_keeps_the_top_one_over_eta_of_the_runs_that_reached_it():
    rule = RoundPruningParams(rule="asha", eta=3, min_rounds=10, min_trials=4, margin=0.0)
    records = [
        _record(0, "a", {10: 0.70, 30: 0.80}),
        _record(0, "b", {10: 0.75, 30: 0.78}),
        _record(0, "c", {10: 0.60}, status="pruned"),
        _record(0, "d", {10: 0.65, 30: 0.70}),
        _record(0, "e", {10: 0.90}, status="failed"),  # not finished: never counted
        _record(1, "a", {10: 0.50}),
    ]
    # Fold 0, rung 10: four runs, the top ceil(4/3) = 2 go on; rung 30 (3 runs) and fold 1 (1 run)
    # have too few runs to prune.
    assert fold_thresholds(records, rule) == {0: ((10, 0.70),)}
    # Logloss is lower-is-better: the 2nd lowest, loosened upwards by the margin.
    losses = [{**record, "rung_metric": "binary_logloss"} for record in records]
    loose = rule.model_copy(update={"margin": 0.01})
    assert fold_thresholds(losses, loose) == {0: ((10, pytest.approx(0.66)),)}


def test_the_first_trials_of_a_fold_are_never_pruned():
    first = [_record(0, run, {10: score}) for run, score in (("a", 0.7), ("b", 0.8), ("c", 0.9))]
    assert fold_thresholds([], ASHA) == {}
    assert fold_thresholds(first[:2], ASHA) == {}
    assert fold_thresholds(first, ASHA) == {0: ((10, 0.8),)}


def test_trials_that_shared_a_boosting_run_count_once():
    # The num_boost_round caps of one combination: one run, one params_json, several trial ids.
    shared = [{**_record(0, "a", {10: 0.9}), "trial_id": f"a{cap}"} for cap in (20, 40, 80)]
    assert fold_thresholds(shared, ASHA) == {}
    others = [_record(0, "b", {10: 0.5}), _record(0, "c", {10: 0.6})]
    assert fold_thresholds(shared + others, ASHA) == {0: ((10, 0.6),)}


def test_scores_of_two_metrics_are_refused():
    records = [_record(0, "a", {10: 0.7}), _record(0, "b", {10: 0.3}, metric="binary_logloss")]
    with pytest.raises(ValueError, match="several metrics"):
        fold_thresholds(records, ASHA)


def test_newly_submitted_groups_carry_the_rungs_and_their_folds_latest_thresholds():
    ladder = RungLadder(ASHA, max_rounds=100)
    group = [_spec(0.1), dataclasses.replace(_spec(0.1), trial_id="cap50", num_boost_round=50)]
    # The first trials of a fold run unpruned: rungs to note, no threshold yet.
    assert {(spec.rungs, spec.rung_thresholds) for spec in ladder.carry(group)} == {(RUNGS, ())}
    ladder.add([_record(0, "a", {10: 0.7}), _record(0, "b", {10: 0.8})])
    assert ladder.carry(group)[0].rung_thresholds == ()
    ladder.add([_record(0, "c", {10: 0.9, 20: 0.95}), _record(0, "c", {10: 0.1})])  # seen: skipped
    carried = ladder.carry(group)
    assert [spec.rung_thresholds for spec in carried] == [((10, 0.8),)] * 2
    assert [spec.trial_id for spec in carried] == ["lr0.1", "cap50"]
    # Reused trials count too (an adaptive search adds to its `reused` as it goes).
    reused = {"d": {**_record(0, "d", {10: 0.85}), "trial_id": "d"}}
    ladder.add_reused(reused)
    assert ladder.carry(group)[0].rung_thresholds == ((10, 0.85),)  # 4 runs: 2nd best
    reused["e"] = {**_record(0, "e", {10: 0.6}), "trial_id": "e"}
    ladder.add_reused(reused)
    assert ladder.carry(group)[0].rung_thresholds == ((10, 0.8),)  # 5 runs: 3rd best
    # Another fold has its own thresholds (none yet); a rule that is off changes nothing.
    other = [dataclasses.replace(_spec(0.1), fold_id=1)]
    assert ladder.carry(other)[0].rung_thresholds == ()
    # A group holding trials of several folds (packed): each trial carries its own fold's.
    mixed = ladder.carry([*other, group[0]])
    assert [spec.rung_thresholds for spec in mixed] == [(), ((10, 0.8),)]
    assert RungLadder(RoundPruningParams(), max_rounds=100).carry(group) == group


def test_exempt_folds_and_a_search_below_its_floor_carry_rungs_but_no_thresholds():
    rule = ASHA.model_copy(update={"exempt_smallest_folds": 1})
    # Fold 1 has the fewest training rows: it is the exempt one, whatever its id.
    ladder = RungLadder(rule, max_rounds=100, train_sizes={0: 300, 1: 100, 2: 200})
    assert ladder.exempt_folds == {1}
    for fold_id in (0, 1):
        ladder.add(
            [
                _record(fold_id, name, {10: score})
                for name, score in zip("abc", (0.7, 0.8, 0.9), strict=True)
            ]
        )
    on = {fold_id: [dataclasses.replace(_spec(0.1), fold_id=fold_id)] for fold_id in (0, 1)}
    assert ladder.carry(on[0])[0].rung_thresholds == ((10, 0.8),)
    assert ladder.carry(on[1])[0].rung_thresholds == ()  # exempt: runs unpruned
    assert ladder.carry(on[1])[0].rungs == RUNGS  # ... noting its rung scores
    assert ladder.carry(on[0], may_prune=False)[0].rung_thresholds == ()
    assert smallest_folds({0: 5, 1: 5, 2: 1}, 2) == {2, 0}
    assert smallest_folds({0: 5}, 0) == frozenset()


def test_rung_folds_judges_a_combination_on_its_first_folds_only():
    ladder = RungLadder(ASHA.model_copy(update={"rung_folds": 1}), max_rounds=100)
    for fold_id in (0, 1):
        ladder.add(
            [
                _record(fold_id, name, {10: score})
                for name, score in zip("abc", (0.7, 0.8, 0.9), strict=True)
            ]
        )
    first, second = (dataclasses.replace(_spec(0.1), fold_id=fold_id) for fold_id in (1, 0))
    assert ladder.carry([first])[0].rung_thresholds == ((10, 0.8),)  # its first fold: judged
    assert ladder.carry([second])[0].rung_thresholds == ()  # its second: runs unpruned
    assert ladder.carry([first])[0].rung_thresholds == ((10, 0.8),)  # submitted again
    other = dataclasses.replace(second, combo_id="other")
    assert ladder.carry([other])[0].rung_thresholds == ((10, 0.8),)  # another combination


def test_run_info_counts_the_trials_pruned_at_each_rung_and_the_rounds_cut():
    specs = {
        "p1": dataclasses.replace(_spec(0.1), trial_id="p1", num_boost_round=60),
        "p2": dataclasses.replace(_spec(0.1), trial_id="p2", num_boost_round=100),
        "p3": dataclasses.replace(_spec(0.3), trial_id="p3", num_boost_round=100),
    }
    records = [
        {"trial_id": "p1", "status": "pruned", "pruned_at_round": 20.0},  # shares p2's run
        {"trial_id": "p2", "status": "pruned", "pruned_at_round": 20.0},
        {"trial_id": "p3", "status": "pruned", "pruned_at_round": 10},
        {"trial_id": "f", "status": "pruned", "pruned_at_round": float("nan")},  # fold-wise
        {"trial_id": "o", "status": "ok", "pruned_at_round": None},
    ]
    info = rung_info(records, lambda ids: [specs[trial_id] for trial_id in ids])
    assert info == {
        "n_pruned_at_rung": 3,
        "pruned_at_rung": {"10": 1, "20": 2},
        "boosting_rounds_cut_at_rungs": (100 - 20) + (100 - 10),
    }


@pytest.fixture(scope="module")
def fold():
    data = model_input(n_rows=900)
    x = data[FEATURES].to_numpy(dtype=np.float32)
    y = data["target"].to_numpy(dtype=np.float64)
    params = _params(0.1)
    return fold_data.fold_from_arrays(x[:600], y[:600], x[600:], y[600:], params)


def _params(learning_rate):
    return {
        "objective": "binary",
        "metric": "auc",
        "num_leaves": 7,
        "learning_rate": learning_rate,
        "min_child_samples": 10,
        "seed": 1,
        "verbosity": -1,
        "num_threads": 1,
        "feature_pre_filter": False,
    }


def _spec(learning_rate, thresholds=()):
    return TrialSpec(
        trial_id=f"lr{learning_rate}",
        combo_id=f"lr{learning_rate}",
        fold_id=0,
        task="classification",
        params=_params(learning_rate),
        grid_values={"learning_rate": learning_rate},
        num_boost_round=100,
        early_stopping_rounds=None,
        rungs=RUNGS,
        rung_thresholds=thresholds,
    )


def test_real_trials_below_the_rung_threshold_stop_and_the_others_go_on(fold):
    # The first trials of the fold carry no thresholds: they run to the cap.
    first = [trial.run_trial(_spec(rate), fold) for rate in (0.3, 0.1, 0.05)]
    assert [row["status"] for row in first] == ["ok", "ok", "ok"]
    records = [
        result_record(_spec(rate), row) for rate, row in zip((0.3, 0.1, 0.05), first, strict=True)
    ]
    thresholds = fold_thresholds(records, ASHA)[0]
    assert [rung for rung, _ in thresholds] == [10, 20, 40, 80]

    # A learning rate far too low is behind at the first rung; a good one goes on to the cap.
    slow = trial.run_trial(_spec(0.001, thresholds), fold)
    assert slow["status"] == "pruned" and slow["pruned_at_round"] == 10
    assert slow["best_iteration"] == 10
    good = trial.run_trial(_spec(0.3, thresholds), fold)
    assert good["status"] == "ok" and good["pruned_at_round"] is None
    assert good["auc_roc"] == first[0]["auc_roc"]
