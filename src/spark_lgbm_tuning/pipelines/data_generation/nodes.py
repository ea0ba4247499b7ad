"""Synthetic data for the tuning pipelines: time-series classification and regression data,
and their cross-validation folds.

Parameters arrive as the validated `DataGenerationParams` (`params:data_generation`) and column
names as `ColumnParams` (`params:columns`, shared with every pipeline); Kedro builds both before
any node runs, so a bad value stops the run before anything is written.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import KFold, TimeSeriesSplit

from spark_lgbm_tuning.pipelines.tuning.folds import FOLD_COLUMNS, SPLITS, fold_rows
from spark_lgbm_tuning.vocabulary.columns import ColumnParams

from .params import DataGenerationParams, TimeEffectsParams, check_rows_for_folds

logger = logging.getLogger(__name__)

#: The effect feature i receives is TIME_EFFECTS[i % 4].
TIME_EFFECTS = ("trend", "weekly", "monthly", "ar1")
#: The regression data's column of KFold fold ids (make_regression_folds reads it).
REGRESSION_FOLD_ID = "fold_id"
#: fold_summary's columns, in order (the fold plots read them).
SUMMARY_COLUMNS = (
    "fold_id",
    "n_train",
    "n_test",
    "train_start",
    "train_end",
    "test_start",
    "test_end",
    "train_positive_ratio",
    "test_positive_ratio",
)


# ------------------------------------------------------------------------------- generators
def generate_timeseries(params: DataGenerationParams, columns: ColumnParams) -> pd.DataFrame:
    """Time-ordered binary classification data: make_classification plus four time effects.

    Columns: `columns.time` (one row per `freq` step from `start`), `columns.feature_prefix`
    0..n-1 (float32), `columns.target` (int32). Feature i carries effect `TIME_EFFECTS[i % 4]`.
    """
    n_informative, n_redundant, n_repeated = params.feature_counts()
    x, y = make_classification(
        n_samples=params.n_samples,
        n_features=params.n_features,
        n_informative=n_informative,
        n_redundant=n_redundant,
        n_repeated=n_repeated,
        class_sep=params.class_sep,
        flip_y=params.flip_y,
        weights=list(params.weights),
        random_state=params.seed,
    )
    # Column-major float32: half the memory and I/O, and each column is contiguous for the
    # AR filter and for the parquet writer.
    features = np.asfortranarray(x, dtype=np.float32)
    del x
    # Microsecond timestamps: Spark cannot read parquet's nanosecond timestamps.
    dates = pd.date_range(params.start, periods=params.n_samples, freq=params.freq, unit="us")
    add_time_effects(features, dates, params.time_effects)

    names = [columns.feature_name(i) for i in range(params.n_features)]
    frame = pd.DataFrame(features, columns=names, copy=False)
    frame.insert(0, columns.time, dates)
    frame[columns.target] = y.astype(np.int32)
    logger.info(
        "Generated %d rows x %d features (%d informative, %d redundant, %d repeated), "
        "positive ratio %.3f, %s to %s",
        len(frame),
        params.n_features,
        n_informative,
        n_redundant,
        n_repeated,
        frame[columns.target].mean(),
        dates[0],
        dates[-1],
    )
    return frame


def add_time_effects(
    features: np.ndarray, dates: pd.DatetimeIndex, effects: TimeEffectsParams
) -> None:
    """Add effect `TIME_EFFECTS[i % 4]` to column i of `features`, in place, vectorised.

    Seasonality follows elapsed calendar time since the first date, so `weekly_period: 7D`
    means a week whatever `freq` is. AR(1) is x[t] = a*x[t-1] + (1-a)*e[t] with x[0] = e[0]:
    unit gain keeps each column's mean, and lfilter runs the recursion in C.
    """
    if features.shape[0] != len(dates):
        raise ValueError(f"{features.shape[0]} feature rows but {len(dates)} dates")
    steps = np.arange(len(dates), dtype=np.float64)
    elapsed = (dates - dates[0]).to_numpy()
    features[:, 0::4] += (effects.trend_slope * steps).astype(np.float32)[:, None]
    for selected, amplitude, period in (
        (slice(1, None, 4), effects.weekly_amplitude, effects.weekly_period),
        (slice(2, None, 4), effects.monthly_amplitude, effects.monthly_period),
    ):
        cycles = elapsed / pd.Timedelta(period).to_timedelta64()
        features[:, selected] += (amplitude * np.sin(2 * np.pi * cycles)).astype(np.float32)[
            :, None
        ]
    a = effects.ar_coefficient
    noise = features[:, 3::4]
    if noise.shape[1]:
        features[:, 3::4] = lfilter([1.0 - a], [1.0, -a], noise, axis=0, zi=a * noise[:1])[0]


def generate_regression(params: DataGenerationParams, columns: ColumnParams) -> pd.DataFrame:
    """make_regression data with a `fold_id` column from a shuffled, seeded KFold.

    Columns: `columns.feature_prefix` 0..n-1 (float32), `columns.target` (float64),
    `fold_id` (int32).
    """
    reg = params.regression
    n_samples, n_features, n_informative = params.regression_shape()
    x, y = make_regression(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_informative,
        noise=reg.noise,
        random_state=reg.seed,
    )
    features = np.asfortranarray(x, dtype=np.float32)
    del x
    fold_id = np.empty(n_samples, dtype=np.int32)
    splitter = KFold(n_splits=reg.n_splits, shuffle=True, random_state=reg.seed)
    for k, (_, test_rows) in enumerate(splitter.split(np.empty((n_samples, 1)))):
        fold_id[test_rows] = k
    names = [columns.feature_name(i) for i in range(n_features)]
    frame = pd.DataFrame(features, columns=names, copy=False)
    frame[columns.target] = y
    frame[REGRESSION_FOLD_ID] = fold_id
    logger.info(
        "Generated regression data: %d rows x %d features, %d folds",
        n_samples,
        n_features,
        reg.n_splits,
    )
    return frame


# ------------------------------------------------------------------------------------ folds
def _membership(folds: list[tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """The long fold table: one row per (fold_id, split, row), rows ascending in each split."""
    parts = [rows for train, test in folds for rows in (train, test)]
    sizes = [len(rows) for rows in parts]
    fold_id, split, row = FOLD_COLUMNS
    return pd.DataFrame(
        {
            fold_id: np.repeat(np.arange(len(parts), dtype=np.int32) // 2, sizes),
            split: np.repeat(np.array(list(SPLITS) * len(folds), dtype=object), sizes),
            row: np.concatenate(parts).astype(np.int64, copy=False),
        }
    )


def make_timeseries_folds(
    timeseries_data: pd.DataFrame, params: DataGenerationParams, columns: ColumnParams
) -> pd.DataFrame:
    """Expanding-window folds (TimeSeriesSplit) over time-sorted rows, as a long table.

    Columns: `fold_id` (int32, 0-based), `split` ("train"/"test"), `row` (int64 position).
    """
    time = columns.time
    if time not in timeseries_data.columns:
        raise ValueError(
            f"timeseries_data has no `{time}` column (columns.time) to order the folds by"
        )
    if not timeseries_data[time].is_monotonic_increasing:
        raise ValueError(f"timeseries_data must be sorted by `{time}` for time-ordered folds")
    folds = params.folds
    check_rows_for_folds(len(timeseries_data), folds, name="timeseries_data rows")
    splitter = TimeSeriesSplit(n_splits=folds.n_splits, gap=folds.gap, test_size=folds.test_size)
    table = _membership(list(splitter.split(np.empty((len(timeseries_data), 1)))))
    logger.info("Cut %d time-ordered folds into %d membership rows", folds.n_splits, len(table))
    return table


def make_regression_folds(regression_data: pd.DataFrame) -> pd.DataFrame:
    """Fold k of the regression data: test = rows with fold_id k, train = all other rows."""
    if REGRESSION_FOLD_ID not in regression_data.columns:
        raise ValueError(f"regression_data has no `{REGRESSION_FOLD_ID}` column")
    fold_id = regression_data[REGRESSION_FOLD_ID].to_numpy()
    n_splits = int(fold_id.max()) + 1 if len(fold_id) else 0
    present = np.unique(fold_id)
    if n_splits < 2 or not np.array_equal(present, np.arange(n_splits)):
        raise ValueError(
            f"regression_data.{REGRESSION_FOLD_ID} must hold every id 0..k-1 for some k >= 2; "
            f"got {present.tolist()[:10]}"
        )
    folds = [(np.flatnonzero(fold_id != k), np.flatnonzero(fold_id == k)) for k in present]
    return _membership(folds)


def summarise_folds(
    timeseries_data: pd.DataFrame, model_folds: pd.DataFrame, columns: ColumnParams
) -> pd.DataFrame:
    """Per fold: train/test sizes, time spans and positive-class ratios."""
    missing = sorted({columns.time, columns.target} - set(timeseries_data.columns))
    if missing:
        raise ValueError(f"timeseries_data lacks column(s) {missing}")
    rows = fold_rows(model_folds, None, len(timeseries_data))
    time = timeseries_data[columns.time].to_numpy()
    target = timeseries_data[columns.target].to_numpy()
    values: dict[str, list] = {column: [] for column in SUMMARY_COLUMNS}
    for fold_id, parts in rows.items():
        values["fold_id"].append(fold_id)
        for split, positions in zip(SPLITS, parts, strict=True):
            values[f"n_{split}"].append(len(positions))
            values[f"{split}_start"].append(time[positions].min())
            values[f"{split}_end"].append(time[positions].max())
            values[f"{split}_positive_ratio"].append(target[positions].mean())
    # numpy arrays keep the time column's unit (pandas would turn datetime64[us] scalars to ns).
    summary = pd.DataFrame({column: np.array(items) for column, items in values.items()})
    summary = summary.astype({"fold_id": np.int32, "n_train": np.int64, "n_test": np.int64})
    for fold in summary.itertuples():
        logger.info(
            "Fold %d: train %d rows (%s .. %s, positive %.3f), test %d rows (%s .. %s, "
            "positive %.3f)",
            fold.fold_id,
            fold.n_train,
            fold.train_start,
            fold.train_end,
            fold.train_positive_ratio,
            fold.n_test,
            fold.test_start,
            fold.test_end,
            fold.test_positive_ratio,
        )
    return summary
