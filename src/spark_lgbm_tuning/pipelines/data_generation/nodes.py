"""Synthetic data for the tuning pipelines: time-series classification data (the preparation
pipeline cuts its folds) and regression data with its KFold folds.

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
from sklearn.model_selection import KFold

from spark_lgbm_tuning.pipelines.preparation.folds import membership_table
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from spark_lgbm_tuning.vocabulary.errors import InputDataError

from .params import DataGenerationParams, TimeEffectsParams

logger = logging.getLogger(__name__)

#: The effect feature i receives is TIME_EFFECTS[i % 4].
TIME_EFFECTS = ("trend", "weekly", "monthly", "ar1")
#: The regression data's column of KFold fold ids (make_regression_folds reads it).
REGRESSION_FOLD_ID = "fold_id"


# ------------------------------------------------------------------------------- generators
def generate_timeseries(params: DataGenerationParams, columns: ColumnParams) -> pd.DataFrame:
    """Time-ordered binary classification data: make_classification plus four time effects.

    Columns: `columns.time` (one row per `freq` step from `start`), `columns.feature_prefix`
    0..n-1 (float32), `columns.target` (int32). Feature i carries effect `TIME_EFFECTS[i % 4]`.
    """
    if columns.time is None:
        raise InputDataError(
            "data_generation makes a time series and needs columns.time, which this env sets to "
            "null for your own table: run `kedro run` to tune input_table, or data_generation "
            "in an env without your column settings"
        )
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
    return membership_table(folds)
