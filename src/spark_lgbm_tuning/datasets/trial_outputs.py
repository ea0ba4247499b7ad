"""What a trial computed besides its result row, as the trial store keeps it: its test part's
predictions and its learning curve (`executor/trial_spec.py`: TEST_PREDICTIONS, LEARNING_CURVE).

One Arrow schema, `OUTPUTS_SCHEMA`, one row per trial. The store writes these rows as `outputs-`
files beside its result batches (`trial_store.py`), only for the trials that can still be among
a search's leaders (`pipelines/tuning/predictions.py`), so a rerun reads the leaders' predictions
back instead of running their trials again. The values are stored as computed (float64): the
report's predictions are exactly the ones the leaderboard's scores came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spark_lgbm_tuning.executor.trial_spec import LEARNING_CURVE, TEST_PREDICTIONS

OUTPUTS_PREFIX = "outputs-"
# When a row (of outputs, or a trial store's result row) was stored: of several rows of one trial,
# the one stored last wins.
STORED_AT = "stored_at"
OUTPUTS_SCHEMA = pa.schema(
    [
        pa.field("trial_id", pa.string(), nullable=False),
        pa.field(TEST_PREDICTIONS, pa.list_(pa.float64()), nullable=False),
        # {metric: value per round}; empty with fixed rounds, which evaluate no metric.
        pa.field(LEARNING_CURVE, pa.map_(pa.string(), pa.list_(pa.float64()))),
        pa.field(STORED_AT, pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
# Rows per compacted outputs file: a file holds whole test parts (8 bytes a test row each).
COMPACTED_OUTPUT_ROWS = 20


def outputs_table(rows: Iterable[Mapping[str, Any]], stored_at: datetime) -> pa.Table | None:
    """The outputs of `rows` (trial rows as a trial returns them; rows without predictions are
    left out) as a table of OUTPUTS_SCHEMA; None when no row has any."""
    kept = [row for row in rows if row.get(TEST_PREDICTIONS) is not None]
    if not kept:
        return None
    return pa.table(
        {
            "trial_id": [str(row["trial_id"]) for row in kept],
            TEST_PREDICTIONS: [np.asarray(row[TEST_PREDICTIONS], dtype=np.float64) for row in kept],
            LEARNING_CURVE: [
                [
                    (metric, list(values))
                    for metric, values in (row.get(LEARNING_CURVE) or {}).items()
                ]
                for row in kept
            ],
            STORED_AT: [stored_at] * len(kept),
        },
        schema=OUTPUTS_SCHEMA,
    )


def latest_outputs(table: pa.Table | None, trial_ids: Iterable[str] | None = None) -> pa.Table:
    """The latest row of each trial of `table` (of `trial_ids` only, when given)."""
    if table is None:
        return OUTPUTS_SCHEMA.empty_table()
    if trial_ids is not None:
        wanted = pa.array(sorted(set(trial_ids)), type=pa.string())
        table = table.filter(pc.is_in(table["trial_id"], wanted))
    table = table.sort_by([(STORED_AT, "descending")])
    # The first row of each trial in stored-last-first order; stable for equal times.
    _, first = np.unique(np.asarray(table["trial_id"].to_pylist(), dtype=object), return_index=True)
    return table.take(np.sort(first))


def outputs_by_trial(table: pa.Table) -> dict[str, dict[str, Any]]:
    """trial_id -> {TEST_PREDICTIONS: float64 array, LEARNING_CURVE: {metric: values}}, as a
    trial returns them."""
    return {
        row["trial_id"]: {
            TEST_PREDICTIONS: np.asarray(row[TEST_PREDICTIONS], dtype=np.float64),
            LEARNING_CURVE: dict(row[LEARNING_CURVE] or []),
        }
        for row in table.to_pylist()
    }
