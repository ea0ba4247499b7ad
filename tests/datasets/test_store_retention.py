"""store_retention: per fold, the rows of the most recent fingerprints, the current one first."""

from __future__ import annotations

import pandas as pd
import pytest

from spark_lgbm_tuning.datasets.store_retention import retained
from spark_lgbm_tuning.datasets.trial_outputs import STORED_AT
from spark_lgbm_tuning.vocabulary.trial_columns import FOLD_FINGERPRINT


def _rows(*rows: tuple[str, int, str | None, int]) -> pd.DataFrame:
    """(trial_id, fold_id, fingerprint, minute stored) rows."""
    return pd.DataFrame(
        {
            "trial_id": [row[0] for row in rows],
            "fold_id": [row[1] for row in rows],
            FOLD_FINGERPRINT: [row[2] for row in rows],
            STORED_AT: [
                pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(minutes=row[3]) for row in rows
            ],
        }
    )


ROWS = _rows(
    ("a-old", 0, "old", 1),
    ("a-mid", 0, "mid", 2),
    ("a-new", 0, "new", 3),
    ("b-old", 1, "old", 1),
    ("b-none", 1, None, 5),
)


def test_the_current_fingerprint_ranks_first_whatever_was_stored_later():
    current = {"a-old": (0, "old")}
    kept = retained(ROWS, 1, current)
    # Fold 0 keeps only the current (oldest) fingerprint; fold 1 its latest (the unfingerprinted).
    assert sorted(kept["trial_id"]) == ["a-old", "b-none"]


def test_two_fingerprints_keep_the_two_most_recent_per_fold():
    kept = retained(ROWS, 2, {})
    assert sorted(kept["trial_id"]) == ["a-mid", "a-new", "b-none", "b-old"]


def test_a_current_trial_is_kept_whatever_its_rank():
    kept = retained(ROWS, 1, {"a-mid": (0, "other")})
    assert "a-mid" in set(kept["trial_id"])


def test_fewer_than_one_fingerprint_is_refused():
    with pytest.raises(ValueError, match="keep_fingerprints must be at least 1"):
        retained(ROWS, 0, {})
