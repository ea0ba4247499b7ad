"""Small tuning inputs built here (not by data_generation): data tables and fold tables."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import KFold, TimeSeriesSplit

from spark_lgbm_tuning.pipelines.tuning.params import TuningParams

# tuning settings of a search with one trial over trial_timeout_s and one well under it, on the
# tests' ~1500-row folds: a tree that cannot split (min_child_samples above the row count) costs
# 30-100 us a round, so 10000 rounds end in under 1 s; trees that keep splitting cost >= 1.5 ms a
# round (63 leaves), so those trials pass the 4 s limit by far. Margins both ways survive a
# loaded CI.
TIMEOUT_SEARCH = {
    "fixed": {
        "objective": "binary",
        "metric": "binary_logloss",
        "verbosity": -1,
        "seed": 42,
        "learning_rate": 0.001,
        "num_leaves": 63,
    },
    "grid": {"min_child_samples": [2, 100_000]},
    "num_boost_round": 10_000,
    "early_stopping_rounds": 0,
    "trial_timeout_s": 4.0,
}


def model_input(n_rows: int = 600, n_features: int = 5, seed: int = 0) -> pd.DataFrame:
    """date, feature_0..n-1 (float32), target (0/1), sorted by date: the model_input contract."""
    x, y = make_classification(
        n_rows, n_features, n_informative=3, n_redundant=1, flip_y=0.05, random_state=seed
    )
    data = pd.DataFrame(x.astype(np.float32), columns=[f"feature_{i}" for i in range(n_features)])
    data.insert(0, "date", pd.date_range("2000-01-01", periods=n_rows, freq="h"))
    data["target"] = y.astype(np.int64)
    return data


def regression_data(n_rows: int = 600, n_features: int = 5, seed: int = 0) -> pd.DataFrame:
    """feature_*, target (float), fold_id: the regression_data contract."""
    x, y = make_regression(n_rows, n_features, n_informative=3, noise=5.0, random_state=seed)
    data = pd.DataFrame(x.astype(np.float32), columns=[f"feature_{i}" for i in range(n_features)])
    data["target"] = y
    data["fold_id"] = np.int32(-1)
    for fold_id, (_, test) in enumerate(KFold(3, shuffle=True, random_state=seed).split(x)):
        data.loc[test, "fold_id"] = fold_id
    return data


def _long_table(splits) -> pd.DataFrame:
    parts = []
    for fold_id, (train, test) in enumerate(splits):
        for split, rows in (("train", train), ("test", test)):
            parts.append(pd.DataFrame({"fold_id": fold_id, "split": split, "row": rows}))
    table = pd.concat(parts, ignore_index=True)
    return table.astype({"fold_id": "int32", "split": "string", "row": "int64"})


def time_folds(data: pd.DataFrame, n_splits: int = 3) -> pd.DataFrame:
    """Expanding-window folds (TimeSeriesSplit) as the long (fold_id, split, row) table."""
    return _long_table(TimeSeriesSplit(n_splits).split(data))


def kfold_folds(data: pd.DataFrame) -> pd.DataFrame:
    """Folds from regression_data's fold_id column: fold k tests on its rows, trains on the rest."""
    positions = np.arange(len(data))
    fold_of = data["fold_id"].to_numpy()
    splits = [
        (positions[fold_of != k], positions[fold_of == k]) for k in sorted(set(fold_of.tolist()))
    ]
    return _long_table(splits)


def tuning_params(**overrides) -> TuningParams:
    """Small, fast tuning parameters (2 combinations, 30 rounds), with top-level overrides."""
    raw = {
        "task": "classification",
        "primary_metric": "auc_roc",
        "fixed": {"objective": "binary", "seed": 1, "verbosity": -1},
        "grid": {"num_leaves": [7, 15], "learning_rate": [0.1]},
        "num_boost_round": 30,
        "early_stopping_rounds": 5,
        "progress_interval_s": 0.2,
    }
    return TuningParams.model_validate({**raw, **overrides})


class LogMessages(logging.Handler):
    """Collects the messages of the records it handles (attach it to a logger)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
