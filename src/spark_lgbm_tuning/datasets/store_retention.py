"""The trial store's retention rule: which stored rows a compaction keeps (`TrialStore.compact`,
`tuning.store_keep_fingerprints`)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from spark_lgbm_tuning.datasets.trial_outputs import STORED_AT
from spark_lgbm_tuning.vocabulary.trial_columns import FOLD_FINGERPRINT


def retained(
    rows: pd.DataFrame, keep_fingerprints: int, current: Mapping[str, tuple[int, str]]
) -> pd.DataFrame:
    """The rows of the `keep_fingerprints` most recent data fingerprints of each fold.

    Per fold, fingerprints rank by their latest stored row, the current search's first (so
    `keep_fingerprints=1` keeps exactly what the current search can reuse); a row of a current
    trial is kept whatever its rank. Rows stored without a fingerprint count as one old one.
    """
    if keep_fingerprints < 1:
        raise ValueError(f"keep_fingerprints must be at least 1, got {keep_fingerprints}")
    if rows.empty:
        return rows
    fingerprint = (
        rows[FOLD_FINGERPRINT].fillna("")
        if FOLD_FINGERPRINT in rows
        else pd.Series("", index=rows.index)
    )
    versions = pd.DataFrame(
        {"fold_id": rows["fold_id"], "fingerprint": fingerprint, "stored": rows[STORED_AT]}
    )
    current_versions = set(current.values())
    versions["is_current"] = [
        (fold_id, print_) in current_versions
        for fold_id, print_ in zip(versions["fold_id"], versions["fingerprint"], strict=True)
    ]
    latest = versions.groupby(["fold_id", "fingerprint"], dropna=False).agg(
        stored=("stored", "max"), is_current=("is_current", "any")
    )
    latest = latest.sort_values(["is_current", "stored"], ascending=False)
    rank = latest.groupby(level="fold_id", dropna=False).cumcount()
    keep_versions = set(rank[rank < keep_fingerprints].index)
    keep = [
        version in keep_versions
        for version in zip(versions["fold_id"], versions["fingerprint"], strict=True)
    ]
    keep = pd.Series(keep, index=rows.index) | rows["trial_id"].isin(set(current))
    return rows[keep].reset_index(drop=True)
