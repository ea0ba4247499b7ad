"""PredictionBuffer: the trials' own predictions kept for the leading combinations only."""

from __future__ import annotations

import numpy as np
import pytest

from spark_lgbm_tuning.executor.trial_spec import LEARNING_CURVE, TEST_PREDICTIONS
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows
from spark_lgbm_tuning.pipelines.tuning.predictions import (
    CURVE_COLUMNS,
    PREDICTION_COLUMNS,
    PredictionBuffer,
)
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from tests.pipelines.tuning.data import tuning_params


@pytest.fixture(scope="module")
def arrays(data, folds):
    return FoldArrays(data, fold_rows(folds, None, len(data)), ColumnParams())


def _row(arrays, combo_id, fold_id, auc, status="ok"):
    """A trial's row as it reaches the driver: its test part's predictions (here the fold id,
    so a test can tell them apart) and its curve."""
    n_test = len(arrays.rows[fold_id][1])
    return {
        "trial_id": f"{combo_id}-{fold_id}",
        "combo_id": combo_id,
        "fold_id": fold_id,
        "status": status,
        "auc_roc": auc,
        "best_iteration": 3,
        TEST_PREDICTIONS: np.full(n_test, fold_id / 10),
        LEARNING_CURVE: {"binary_logloss": [0.6, 0.5, 0.4, 0.45]},
    }


def test_only_the_best_combinations_by_running_mean_are_kept(arrays):
    buffer = PredictionBuffer(tuning_params(), arrays, keep=2)
    buffer.add([_row(arrays, "a", 0, 0.70), _row(arrays, "b", 0, 0.80)])
    buffer.add([_row(arrays, "c", 0, 0.75)])  # beats a's running mean: a goes
    assert set(buffer.kept) == {"b", "c"}
    buffer.add([_row(arrays, "a", 1, 0.90)])  # a is back: mean 0.80; b's stays 0.80, c's 0.75
    assert set(buffer.kept) == {"a", "b"}
    assert set(buffer.kept["b"]) == {0} and set(buffer.kept["a"]) == {1}


def test_lower_is_better_metrics_keep_the_lowest(arrays):
    params = tuning_params(primary_metric="logloss")
    buffer = PredictionBuffer(params, arrays, keep=1)
    rows = [
        _row(arrays, combo, 0, None) | {"logloss": loss} for combo, loss in (("a", 0.3), ("b", 0.2))
    ]
    buffer.add(rows)
    assert set(buffer.kept) == {"b"}


def test_a_pruned_combination_is_dropped_at_once(arrays):
    buffer = PredictionBuffer(tuning_params(), arrays, keep=5)
    buffer.add([_row(arrays, "a", 0, 0.9), _row(arrays, "a", 1, 0.9, status="pruned")])
    assert buffer.kept == {}
    failed = _row(arrays, "b", 0, None, status="failed") | {TEST_PREDICTIONS: None}
    buffer.add([failed])
    assert buffer.kept == {}


def test_leaders_are_the_fully_evaluated_best_and_missing_folds_are_named(arrays):
    buffer = PredictionBuffer(tuning_params(), arrays, keep=2)
    records = [
        _row(arrays, combo, fold, auc)
        for combo, aucs in (("a", (0.9, 0.9, 0.9)), ("b", (0.8, 0.8, 0.8)), ("c", (0.7, 0.7, 0.7)))
        for fold, auc in enumerate(aucs)
    ]
    # d: better, but one fold has no record (an adaptive search stopped it); e: pruned.
    records += [_row(arrays, "d", 0, 0.99), _row(arrays, "d", 1, 0.99)]
    records += [_row(arrays, "e", f, 0.99, status="pruned") for f in range(3)]
    buffer.add([record for record in records if record["combo_id"] == "b"])

    leaders = buffer.leaders(records)
    assert leaders == ["a", "b"]
    # a's folds were reused from the store (never seen): all three must run again.
    assert buffer.missing(records, leaders) == ["a-0", "a-1", "a-2"]


def test_frames_hold_each_kept_fold_with_its_test_rows(arrays):
    buffer = PredictionBuffer(tuning_params(), arrays, keep=2)
    buffer.add([_row(arrays, "a", fold, 0.9) for fold in (0, 2)])
    predictions, curves = buffer.frames(["a"])

    assert predictions.columns.tolist() == PREDICTION_COLUMNS
    test_rows = np.concatenate([arrays.rows[0][1], arrays.rows[2][1]])
    np.testing.assert_array_equal(predictions["row"], test_rows)
    np.testing.assert_array_equal(predictions["actual"], arrays.y[test_rows])
    assert sorted(set(predictions["predicted"])) == [0.0, 0.2]
    assert curves.columns.tolist() == CURVE_COLUMNS
    assert curves.groupby("fold_id")["round"].max().tolist() == [4, 4]
    assert (curves["best_iteration"] == 3).all()
    empty_predictions, empty_curves = buffer.frames(["unknown"])
    assert empty_predictions.empty and empty_predictions.columns.tolist() == PREDICTION_COLUMNS
    assert empty_curves.empty


def test_held_rows_and_trial_ids_are_what_the_buffer_keeps(arrays):
    """What the trial store keeps of the predictions follows the buffer: the rows it holds after
    eviction while the search runs, and the leaders' held folds at the end."""
    buffer = PredictionBuffer(tuning_params(), arrays, keep=1)
    first = [_row(arrays, "a", 0, 0.7)]
    buffer.add(first)
    assert buffer.held(first) == first
    worse, better = _row(arrays, "b", 0, 0.6), _row(arrays, "c", 0, 0.8)
    buffer.add([worse])
    assert buffer.held([worse]) == []  # evicted at once: never stored
    buffer.add([better])
    assert buffer.held([better]) == [better] and buffer.held(first) == []
    failed = _row(arrays, "c", 1, None, status="failed") | {TEST_PREDICTIONS: None}
    buffer.add([failed])
    assert buffer.held([failed]) == []

    records = [first[0], worse, better, failed]
    assert buffer.trial_ids(records, ["c"]) == ["c-0"]
    assert buffer.trial_ids(records, []) == []
