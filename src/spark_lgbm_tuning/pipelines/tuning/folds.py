"""The fold table: one row per (fold_id, split, row), its row positions per fold, the fold data.

data_generation writes the table, tuning trains on its folds and reporting refits on the rows it
covers; this module is the one place that knows its columns. `FoldArrays` is the tuning side's
view of the data: features and target converted once, sliced per fold, fingerprinted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.vocabulary.columns import ColumnParams, feature_columns, target_values
from spark_lgbm_tuning.vocabulary.errors import InputDataError
from spark_lgbm_tuning.vocabulary.features import categorical_features, feature_matrix
from spark_lgbm_tuning.vocabulary.hashing import stable_hash

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
        raise InputDataError(
            f"The fold table lacks columns {missing}; expected {list(FOLD_COLUMNS)} "
            "(one row per fold_id, split train/test, row)"
        )
    available = sorted(int(fold_id) for fold_id in folds["fold_id"].unique())
    if not available:
        raise InputDataError("The fold table is empty")
    wanted = available if fold_ids is None else list(fold_ids)
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        raise InputDataError(
            f"tuning.folds names unknown fold ids {unknown}; available: {available}"
        )
    splits = set(folds["split"].unique()) - set(SPLITS)
    if splits:
        raise InputDataError(
            f"The fold table's split must be 'train' or 'test', got {sorted(splits)}"
        )
    rows = folds["row"].to_numpy()
    if len(rows) and (rows.min() < 0 or rows.max() >= n_rows):
        raise InputDataError(
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
            raise InputDataError(
                f"Fold {fold_id} has {len(train)} train and {len(test)} test rows; "
                "both parts must be non-empty"
            )
        result[fold_id] = (train, test)
    return result


def covered_rows(folds: pd.DataFrame, n_rows: int) -> np.ndarray:
    """Every row any fold uses (train or test), sorted: the data the cross-validation saw."""
    rows = fold_rows(folds, None, n_rows)
    return np.unique(np.concatenate([part for pair in rows.values() for part in pair]))


def check_target(
    target: np.ndarray, rows: Mapping[int, tuple[np.ndarray, np.ndarray]], task: str
) -> None:
    """For classification: 0/1 labels and both classes in every fold's training part; for
    multiclass: classes 0..K-1 and every class in every fold's training part."""
    if task == "multiclass":
        _check_classes(target, rows)
        return
    if task != "classification":
        return
    labels = sorted(set(np.unique(target).tolist()) - {0.0, 1.0})
    if labels:
        raise InputDataError(
            f"task classification needs a 0/1 target, found values {labels[:5]}: map the "
            "classes to 0 and 1, or set tuning.task: regression"
        )
    for fold_id, (train, _) in rows.items():
        classes = np.unique(target[train])
        if len(classes) < 2:
            raise InputDataError(
                f"Fold {fold_id}'s training part ({len(train)} rows) has only class "
                f"{int(classes[0])}: LightGBM cannot learn a binary classifier from it. Leave "
                "the fold out (tuning.folds) or cut folds with a larger first training window"
            )


def _check_classes(target: np.ndarray, rows: Mapping[int, tuple[np.ndarray, np.ndarray]]) -> None:
    """Multiclass labels: integers 0..K-1 (K >= 2), each class in every fold's training part."""
    values = np.unique(target)
    bad = [value for value in values.tolist() if value < 0 or value != int(value)]
    if bad or len(values) < 2 or values[-1] != len(values) - 1:
        raise InputDataError(
            f"task multiclass needs classes numbered 0..K-1, found values {values[:8].tolist()}: "
            "let the preparation pipeline map the labels (it numbers them in sorted order)"
        )
    for fold_id, (train, _) in rows.items():
        missing = sorted(set(range(len(values))) - set(np.unique(target[train]).tolist()))
        if missing:
            raise InputDataError(
                f"Fold {fold_id}'s training part ({len(train)} rows) lacks class {missing[0]} "
                f"of 0..{len(values) - 1}: LightGBM cannot learn it there. Cut stratified folds "
                "(preparation.folds.kind: stratified), or leave the fold out (tuning.folds)"
            )


def n_classes(target: np.ndarray) -> int:
    """The classes of a checked multiclass target (classes 0..K-1): K."""
    return int(np.max(target)) + 1 if len(target) else 0


def searched_params(params: TuningParams, arrays: FoldArrays) -> TuningParams:
    """`params` as the search runs them on `arrays`: with the categorical features' positions
    and, for multiclass, num_class from the data's classes."""
    params = params.with_categorical(arrays.features, arrays.categorical)
    return params.with_num_class(n_classes(arrays.y))


class FoldArrays:
    """The data as float32 features and float64 labels, converted once, with each fold's rows.

    A categorical feature (a pandas category in the model input) is its code, missing as NaN;
    `categorical` names those features, which LightGBM is told of (`categorical_feature`).

    Fold parts are sliced on demand (a copy per call) rather than kept, so a search holds one
    copy of the data however many folds it has. Fails naming a missing or non-numeric column
    and a NaN or infinite target.
    """

    def __init__(
        self,
        data: pd.DataFrame,
        rows: Mapping[int, tuple[np.ndarray, np.ndarray]],
        columns: ColumnParams,
    ) -> None:
        self.features = feature_columns(data, columns)
        self.categorical = categorical_features(data, self.features)
        self.y = target_values(data, columns)
        self.x = feature_matrix(data, self.features)
        self.rows = dict(rows)
        # fold_id -> its fingerprint: a node hashes each fold once (its search and the check).
        self._fingerprints: dict[int, str] = {}

    def split(self, fold_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x_train, y_train, x_test, y_test) of one fold."""
        train, test = self.rows[fold_id]
        return self.x[train], self.y[train], self.x[test], self.y[test]

    def train_sizes(self) -> dict[int, int]:
        """fold_id -> its training rows."""
        return {fold_id: len(train) for fold_id, (train, _) in self.rows.items()}

    def fingerprint(self, fold_id: int) -> str:
        """A digest of the fold's exact data: trial ids change whenever the data does."""
        if fold_id not in self._fingerprints:
            self._fingerprints[fold_id] = self._digest(fold_id)
        return self._fingerprints[fold_id]

    def _digest(self, fold_id: int) -> str:
        # Categorical features only when there are some: numeric data keeps its earlier ids.
        payload: list[Any] = (
            [self.features, self.categorical] if self.categorical else [self.features]
        )
        for array in self.split(fold_id):
            payload.append(hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest())
        return stable_hash(payload, length=32)

    def check_fingerprints(self, expected: Mapping[int, set[str]]) -> None:
        """Fail when the trials (fold id -> their fingerprints) were expanded from other data.

        It guards a run of `run_trials` alone (e.g. `kedro run --from-nodes run_trials`) after
        the data changed; the search's own fingerprints of these arrays are reused.
        """
        for fold_id in self.rows:
            if expected.get(fold_id) != {self.fingerprint(fold_id)}:
                raise InputDataError(
                    f"tuning_trials was expanded from other data for fold {fold_id} (fingerprint "
                    "mismatch): rerun expand_search_space on the current data and folds"
                )
