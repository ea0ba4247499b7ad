"""The fold table: one row per (fold_id, split, row), and its row positions per fold.

data_generation writes the table, tuning trains on its folds and reporting refits on the rows it
covers; this module is the one place that knows its columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FOLD_COLUMNS = ("fold_id", "split", "row")
SPLITS = ("train", "test")


def fold_rows(
    folds: pd.DataFrame, fold_ids: list[int] | None, n_rows: int
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """fold_id -> (train row positions, test row positions), checked against the data size.

    `fold_ids` None means every fold of the table.
    """
    missing = [column for column in FOLD_COLUMNS if column not in folds.columns]
    if missing:
        raise ValueError(
            f"The fold table lacks columns {missing}; expected {list(FOLD_COLUMNS)} "
            "(one row per fold_id, split train/test, row)"
        )
    available = sorted(int(fold_id) for fold_id in folds["fold_id"].unique())
    if not available:
        raise ValueError("The fold table is empty")
    wanted = available if fold_ids is None else list(fold_ids)
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        raise ValueError(f"tuning.folds names unknown fold ids {unknown}; available: {available}")
    splits = set(folds["split"].unique()) - set(SPLITS)
    if splits:
        raise ValueError(f"The fold table's split must be 'train' or 'test', got {sorted(splits)}")
    rows = folds["row"].to_numpy()
    if len(rows) and (rows.min() < 0 or rows.max() >= n_rows):
        raise ValueError(
            f"The fold table's row positions must lie in 0..{n_rows - 1} (the data has "
            f"{n_rows} rows), got {int(rows.min())}..{int(rows.max())}: the folds were cut "
            "from other data; rerun data_generation"
        )
    result = {}
    for fold_id in wanted:
        member = folds[folds["fold_id"] == fold_id]
        train = np.sort(member.loc[member["split"] == "train", "row"].to_numpy(dtype=np.int64))
        test = np.sort(member.loc[member["split"] == "test", "row"].to_numpy(dtype=np.int64))
        if len(train) == 0 or len(test) == 0:
            raise ValueError(
                f"Fold {fold_id} has {len(train)} train and {len(test)} test rows; "
                "both parts must be non-empty"
            )
        result[fold_id] = (train, test)
    return result


def covered_rows(folds: pd.DataFrame, n_rows: int) -> np.ndarray:
    """Every row any fold uses (train or test), sorted: the data the cross-validation saw."""
    rows = fold_rows(folds, None, n_rows)
    return np.unique(np.concatenate([part for pair in rows.values() for part in pair]))
