"""A trial's outputs as the trial store keeps them: one Arrow schema, the latest row per trial."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from spark_lgbm_tuning.datasets.trial_outputs import (
    OUTPUTS_SCHEMA,
    latest_outputs,
    outputs_by_trial,
    outputs_table,
)
from spark_lgbm_tuning.executor.trial_spec import LEARNING_CURVE, TEST_PREDICTIONS

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _row(trial_id, predictions, curve=None):
    return {
        "trial_id": trial_id,
        "status": "ok",
        TEST_PREDICTIONS: predictions,
        LEARNING_CURVE: curve,
    }


def test_outputs_round_trip_exactly_as_the_trial_returned_them():
    predictions = np.random.default_rng(0).random(5)  # float64 digits float32 would lose
    curve = {"binary_logloss": [0.69, 0.61, 0.6], "auc": [0.7, 0.75, 0.74]}
    table = outputs_table([_row("a", predictions, curve), _row("b", [0.5], None)], NOW)

    assert table.schema == OUTPUTS_SCHEMA
    back = outputs_by_trial(table)
    assert back["a"][TEST_PREDICTIONS].dtype == np.float64
    np.testing.assert_array_equal(back["a"][TEST_PREDICTIONS], predictions)
    assert back["a"][LEARNING_CURVE] == curve
    assert back["b"][LEARNING_CURVE] == {}  # fixed rounds: no curve


def test_rows_without_predictions_are_left_out_and_none_gives_no_table():
    failed = _row("failed", None)
    assert outputs_table([failed], NOW) is None
    assert outputs_table([], NOW) is None
    table = outputs_table([failed, _row("ok", [0.1])], NOW)
    assert table["trial_id"].to_pylist() == ["ok"]


def test_the_latest_row_of_each_asked_trial_wins():
    old = outputs_table([_row("a", [0.1]), _row("b", [0.2])], NOW)
    new = outputs_table([_row("a", [0.9])], NOW + timedelta(seconds=1))
    both = pa.concat_tables([new, old])  # file order is no guide: stored_at is
    latest = outputs_by_trial(latest_outputs(both))
    assert {trial: list(out[TEST_PREDICTIONS]) for trial, out in latest.items()} == {
        "a": [0.9],
        "b": [0.2],
    }
    assert set(outputs_by_trial(latest_outputs(both, ["b", "unknown"]))) == {"b"}
    assert latest_outputs(None, ["a"]).num_rows == 0
    assert latest_outputs(None).schema == OUTPUTS_SCHEMA
