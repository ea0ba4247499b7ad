"""Synthetic data for the tuning pipelines: time-series classification and regression data,
their cross-validation folds, and reports on the time-ordered folds.

Parameters arrive as one validated `DataGenerationParams` (`params:data_generation`); Kedro
builds it before any node runs, so a bad value stops the run before anything is written.
"""

from __future__ import annotations

import logging
from datetime import datetime

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from scipy.signal import lfilter
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import KFold, TimeSeriesSplit

logger = logging.getLogger(__name__)

#: The effect feature i receives is TIME_EFFECTS[i % 4].
TIME_EFFECTS = ("trend", "weekly", "monthly", "ar1")
FOLD_COLUMNS = ("fold_id", "split", "row")
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
# make_classification's default: 2 classes x 2 clusters need 2 ** n_informative >= 4.
_MIN_INFORMATIVE = 2


# ------------------------------------------------------------------------------- parameters
class _StrictParams(BaseModel):
    """Unknown keys (typos) fail, naming the keys that are allowed."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: object) -> object:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(cls.model_fields))
            if unknown:
                raise ValueError(
                    f"unknown key(s) {unknown}; the allowed keys are {sorted(cls.model_fields)}"
                )
        return data


class TimeEffectsParams(_StrictParams):
    """The four time effects; feature i gets effect i % 4 (trend, weekly, monthly, AR(1))."""

    model_config = ConfigDict(extra="forbid")

    trend_slope: float = Field(allow_inf_nan=False, description="added per row (per `freq` step)")
    weekly_amplitude: float = Field(ge=0, allow_inf_nan=False)
    weekly_period: str = Field(description="a pandas Timedelta string, e.g. '7D'")
    monthly_amplitude: float = Field(ge=0, allow_inf_nan=False)
    monthly_period: str = Field(description="a pandas Timedelta string, e.g. '30D'")
    ar_coefficient: float = Field(ge=0, lt=1, description="x[t] = a*x[t-1] + (1-a)*noise[t]")

    @field_validator("weekly_period", "monthly_period")
    @classmethod
    def _positive_duration(cls, value: str, info: ValidationInfo) -> str:
        try:
            period = pd.Timedelta(value)
        except ValueError as error:
            raise ValueError(
                f"{info.field_name} must be a positive pandas Timedelta such as '7D' or "
                f"'168h'; got {value!r} ({error})"
            ) from error
        if period <= pd.Timedelta(0):
            raise ValueError(f"{info.field_name} must be > 0 (e.g. '7D'); got {value!r}")
        return value


class FoldParams(_StrictParams):
    """Expanding-window folds, as sklearn's TimeSeriesSplit cuts them."""

    model_config = ConfigDict(extra="forbid")

    n_splits: int = Field(ge=2, le=100)
    gap: int = Field(default=0, ge=0, description="rows dropped between train and test")
    test_size: int | None = Field(
        default=None, ge=1, description="rows per test window; null: n_samples // (n_splits + 1)"
    )


class RegressionParams(_StrictParams):
    """sklearn make_regression data with a shuffled KFold `fold_id` column."""

    model_config = ConfigDict(extra="forbid")

    n_samples: int | None = Field(
        default=None, ge=2, description="null: the same as data_generation.n_samples"
    )
    n_features: int | None = Field(
        default=None, ge=1, description="null: the same as data_generation.n_features"
    )
    informative_fraction: float = Field(gt=0, le=1)
    noise: float = Field(ge=0, allow_inf_nan=False)
    seed: int = Field(ge=0, lt=2**32)
    n_splits: int = Field(ge=2, le=100)


class DataGenerationParams(_StrictParams):
    """`params:data_generation`: sizes, class balance, time axis, time effects and folds."""

    model_config = ConfigDict(extra="forbid")

    # Too few rows for the folds is refused by check_rows_for_folds, with the count needed.
    n_samples: int = Field(ge=1, le=50_000_000)
    n_features: int = Field(ge=4, le=10_000, description="at least one feature per time effect")
    seed: int = Field(ge=0, lt=2**32)
    start: datetime
    freq: str = Field(description="a pandas offset alias, e.g. 'h' (hourly)")
    # Fractions of n_features (as the reference notebook does), so that scaling n_features
    # alone keeps a valid make_classification call.
    informative_fraction: float = Field(gt=0, le=1)
    redundant_fraction: float = Field(ge=0, le=1)
    repeated_fraction: float = Field(ge=0, le=1)
    class_sep: float = Field(gt=0, allow_inf_nan=False)
    flip_y: float = Field(ge=0, lt=1, description="fraction of labels assigned at random")
    weights: list[float] = Field(
        min_length=1, max_length=2, description="class proportions: [0.8] -> 20% positives"
    )
    time_effects: TimeEffectsParams
    folds: FoldParams
    regression: RegressionParams

    @field_validator("freq")
    @classmethod
    def _known_frequency(cls, value: str) -> str:
        try:
            pd.tseries.frequencies.to_offset(value)
        except ValueError as error:
            raise ValueError(
                f"freq must be a pandas offset alias such as 'h', '15min' or 'D'; got {value!r}"
            ) from error
        return value

    @field_validator("weights")
    @classmethod
    def _weights_are_proportions(cls, value: list[float]) -> list[float]:
        for weight in value:
            if not 0 < weight < 1:
                raise ValueError(
                    f"weights must each lie in (0, 1) exclusive (the share of a class); got {value}"
                )
        if len(value) == 2 and not np.isclose(sum(value), 1.0):
            raise ValueError(f"weights for both classes must sum to 1; got {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DataGenerationParams:
        fractions = self.informative_fraction + self.redundant_fraction + self.repeated_fraction
        if fractions > 1 + 1e-9:
            raise ValueError(
                "informative_fraction + redundant_fraction + repeated_fraction must be <= 1 "
                f"(they share the n_features columns); got {self.informative_fraction} + "
                f"{self.redundant_fraction} + {self.repeated_fraction} = {fractions:g}"
            )
        n_informative = self.feature_counts()[0]
        if n_informative < _MIN_INFORMATIVE:
            raise ValueError(
                f"informative_fraction={self.informative_fraction} of n_features="
                f"{self.n_features} gives {n_informative} informative feature(s); "
                f"make_classification needs >= {_MIN_INFORMATIVE}, so informative_fraction "
                f"must be >= {_MIN_INFORMATIVE / self.n_features:g}"
            )
        check_rows_for_folds(self.n_samples, self.folds)
        freq = pd.tseries.frequencies.to_offset(self.freq)
        effects = self.time_effects
        if isinstance(freq, pd.offsets.Tick):  # fixed-length steps: check the Nyquist limit
            for name in ("weekly_period", "monthly_period"):
                if pd.Timedelta(getattr(effects, name)) < 2 * pd.Timedelta(freq):
                    raise ValueError(
                        f"time_effects.{name}={getattr(effects, name)!r} must span >= 2 steps "
                        f"of freq={self.freq!r} to be visible in the data"
                    )
        reg = self.regression
        reg_samples = self.regression_shape()[0]
        if reg_samples < reg.n_splits:
            raise ValueError(
                f"regression.n_samples={reg_samples} is too few rows for regression.n_splits="
                f"{reg.n_splits}: need n_samples >= n_splits"
            )
        return self

    def feature_counts(self) -> tuple[int, int, int]:
        """(informative, redundant, repeated) feature counts for make_classification."""
        return (
            int(self.n_features * self.informative_fraction),
            int(self.n_features * self.redundant_fraction),
            int(self.n_features * self.repeated_fraction),
        )

    def regression_shape(self) -> tuple[int, int, int]:
        """(rows, features, informative features) of the regression data.

        Null sizes follow the top-level ones; at least one feature is informative, so that
        scaling n_features down alone stays valid.
        """
        reg = self.regression
        n_features = reg.n_features or self.n_features
        n_informative = max(1, int(n_features * reg.informative_fraction))
        return (reg.n_samples or self.n_samples, n_features, n_informative)


def check_rows_for_folds(n_rows: int, folds: FoldParams, name: str = "n_samples") -> None:
    """Fail unless TimeSeriesSplit gives every fold >= 1 training row and >= 1 test row."""
    k, gap = folds.n_splits, folds.gap
    test_size = folds.test_size or n_rows // (k + 1)
    first_train = n_rows - gap - k * test_size
    if test_size >= 1 and first_train >= 1:
        return
    # Exact for a fixed test_size; with the default n // (k + 1) this many rows always suffice.
    enough = gap + k * folds.test_size + 1 if folds.test_size else (gap + 1) * (k + 1)
    raise ValueError(
        f"{name}={n_rows} is too few rows for folds (n_splits={k}, gap={gap}, test_size="
        f"{folds.test_size}): the first training window would hold {first_train} rows and "
        f"each test window {test_size}, and both need >= 1; use {name} >= {enough}"
    )


# ------------------------------------------------------------------------------- generators
def generate_timeseries(params: DataGenerationParams) -> pd.DataFrame:
    """Time-ordered binary classification data: make_classification plus four time effects.

    Columns: `date` (one row per `freq` step from `start`), `feature_0..feature_{n-1}`
    (float32), `target` (int32). Feature i carries effect `TIME_EFFECTS[i % 4]`.
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

    frame = pd.DataFrame(
        features, columns=[f"feature_{i}" for i in range(params.n_features)], copy=False
    )
    frame.insert(0, "date", dates)
    frame["target"] = y.astype(np.int32)
    logger.info(
        "Generated %d rows x %d features (%d informative, %d redundant, %d repeated), "
        "positive ratio %.3f, %s to %s",
        len(frame),
        params.n_features,
        n_informative,
        n_redundant,
        n_repeated,
        frame["target"].mean(),
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
    for columns, amplitude, period in (
        (slice(1, None, 4), effects.weekly_amplitude, effects.weekly_period),
        (slice(2, None, 4), effects.monthly_amplitude, effects.monthly_period),
    ):
        cycles = elapsed / pd.Timedelta(period).to_timedelta64()
        features[:, columns] += (amplitude * np.sin(2 * np.pi * cycles)).astype(np.float32)[:, None]
    a = effects.ar_coefficient
    noise = features[:, 3::4]
    if noise.shape[1]:
        features[:, 3::4] = lfilter([1.0 - a], [1.0, -a], noise, axis=0, zi=a * noise[:1])[0]


def generate_regression(params: DataGenerationParams) -> pd.DataFrame:
    """make_regression data with a `fold_id` column from a shuffled, seeded KFold.

    Columns: `feature_0..feature_{n-1}` (float32), `target` (float64), `fold_id` (int32).
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
    frame = pd.DataFrame(features, columns=[f"feature_{i}" for i in range(n_features)], copy=False)
    frame["target"] = y
    frame["fold_id"] = fold_id
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
    return pd.DataFrame(
        {
            "fold_id": np.repeat(np.arange(len(parts), dtype=np.int32) // 2, sizes),
            "split": np.repeat(np.array(["train", "test"] * len(folds), dtype=object), sizes),
            "row": np.concatenate(parts).astype(np.int64, copy=False),
        }
    )


def make_timeseries_folds(
    timeseries_data: pd.DataFrame, params: DataGenerationParams
) -> pd.DataFrame:
    """Expanding-window folds (TimeSeriesSplit) over date-sorted rows, as a long table.

    Columns: `fold_id` (int32, 0-based), `split` ("train"/"test"), `row` (int64 position).
    """
    if "date" not in timeseries_data.columns:
        raise ValueError("timeseries_data has no `date` column to order the folds by")
    if not timeseries_data["date"].is_monotonic_increasing:
        raise ValueError("timeseries_data must be sorted by `date` for time-ordered folds")
    folds = params.folds
    check_rows_for_folds(len(timeseries_data), folds, name="timeseries_data rows")
    splitter = TimeSeriesSplit(n_splits=folds.n_splits, gap=folds.gap, test_size=folds.test_size)
    table = _membership(list(splitter.split(np.empty((len(timeseries_data), 1)))))
    logger.info("Cut %d time-ordered folds into %d membership rows", folds.n_splits, len(table))
    return table


def make_regression_folds(regression_data: pd.DataFrame) -> pd.DataFrame:
    """Fold k of the regression data: test = rows with fold_id k, train = all other rows."""
    if "fold_id" not in regression_data.columns:
        raise ValueError("regression_data has no `fold_id` column")
    fold_id = regression_data["fold_id"].to_numpy()
    n_splits = int(fold_id.max()) + 1 if len(fold_id) else 0
    present = np.unique(fold_id)
    if n_splits < 2 or not np.array_equal(present, np.arange(n_splits)):
        raise ValueError(
            f"regression_data.fold_id must hold every id 0..k-1 for some k >= 2; "
            f"got {present.tolist()[:10]}"
        )
    folds = [(np.flatnonzero(fold_id != k), np.flatnonzero(fold_id == k)) for k in present]
    return _membership(folds)


def summarise_folds(timeseries_data: pd.DataFrame, timeseries_folds: pd.DataFrame) -> pd.DataFrame:
    """Per fold: train/test sizes, date spans and positive-class ratios."""
    for frame, name, columns in (
        (timeseries_data, "timeseries_data", ("date", "target")),
        (timeseries_folds, "timeseries_folds", FOLD_COLUMNS),
    ):
        missing = sorted(set(columns) - set(frame.columns))
        if missing:
            raise ValueError(f"{name} lacks column(s) {missing}")
    rows = timeseries_folds["row"].to_numpy()
    if len(rows) == 0:
        raise ValueError("timeseries_folds is empty")
    if rows.min() < 0 or rows.max() >= len(timeseries_data):
        raise ValueError(
            f"timeseries_folds.row must lie in [0, {len(timeseries_data)}) (rows of "
            f"timeseries_data); got [{rows.min()}, {rows.max()}]"
        )
    splits = set(timeseries_folds["split"].unique())
    if splits != {"train", "test"}:
        raise ValueError(f"timeseries_folds.split must hold 'train' and 'test'; got {splits}")

    labelled = pd.DataFrame(
        {
            "fold_id": timeseries_folds["fold_id"].to_numpy(),
            "split": timeseries_folds["split"].to_numpy(),
            "date": timeseries_data["date"].to_numpy()[rows],
            "target": timeseries_data["target"].to_numpy()[rows],
        }
    )
    stats = labelled.groupby(["fold_id", "split"], sort=True).agg(
        n=("target", "size"),
        start=("date", "min"),
        end=("date", "max"),
        positive_ratio=("target", "mean"),
    )
    wide = stats.unstack("split")
    summary = pd.DataFrame(
        {
            "fold_id": wide.index.to_numpy(dtype=np.int32),
            "n_train": wide[("n", "train")].to_numpy(dtype=np.int64),
            "n_test": wide[("n", "test")].to_numpy(dtype=np.int64),
            "train_start": wide[("start", "train")].to_numpy(),
            "train_end": wide[("end", "train")].to_numpy(),
            "test_start": wide[("start", "test")].to_numpy(),
            "test_end": wide[("end", "test")].to_numpy(),
            "train_positive_ratio": wide[("positive_ratio", "train")].to_numpy(dtype=float),
            "test_positive_ratio": wide[("positive_ratio", "test")].to_numpy(dtype=float),
        }
    )
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


# ------------------------------------------------------------------------------------ plots
def _figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas: headless, and outside pyplot's registry (nothing to close)."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _checked_summary(fold_summary: pd.DataFrame) -> pd.DataFrame:
    missing = sorted(set(SUMMARY_COLUMNS) - set(fold_summary.columns))
    if missing:
        raise ValueError(f"fold_summary lacks column(s) {missing}")
    if fold_summary.empty:
        raise ValueError("fold_summary has no folds to plot")
    summary = fold_summary.sort_values("fold_id").reset_index(drop=True)
    # The CSV round trip turns dates into strings.
    for column in ("train_start", "train_end", "test_start", "test_end"):
        summary[column] = pd.to_datetime(summary[column])
    return summary


def _phase_means(
    values: np.ndarray, elapsed: np.ndarray, period: pd.Timedelta, n_bins: int = 48
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of `values` per phase bin of `period`: a seasonal component stands out of noise."""
    phase = np.mod(elapsed / period.to_timedelta64(), 1.0)
    bins = np.minimum((phase * n_bins).astype(np.int64), n_bins - 1)
    sums = np.bincount(bins, weights=values, minlength=n_bins)
    counts = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore"):
        return (np.arange(n_bins) + 0.5) / n_bins, sums / counts


def plot_sample_features(timeseries_data: pd.DataFrame, params: DataGenerationParams) -> Figure:
    """One panel per time effect, on features 0-3 (trend, weekly, monthly, AR(1))."""
    needed = ["date"] + [f"feature_{i}" for i in range(len(TIME_EFFECTS))]
    missing = sorted(set(needed) - set(timeseries_data.columns))
    if missing:
        raise ValueError(f"timeseries_data lacks column(s) {missing}")
    if len(timeseries_data) < 2:
        raise ValueError("timeseries_data needs at least 2 rows to plot")
    effects = params.time_effects
    dates = pd.DatetimeIndex(timeseries_data["date"])
    elapsed = (dates - dates[0]).to_numpy()
    figure = _figure(12, 11)
    trend_ax, weekly_ax, monthly_ax, ar_ax = figure.subplots(4, 1)

    trend = timeseries_data["feature_0"].to_numpy(dtype=np.float64)
    n_bins = min(200, len(trend))
    edges = np.linspace(0, len(trend), n_bins + 1).astype(np.int64)
    trend_ax.plot(
        dates[(edges[:-1] + edges[1:]) // 2], np.add.reduceat(trend, edges[:-1]) / np.diff(edges)
    )
    trend_ax.set_title(f"feature_0: linear trend ({effects.trend_slope:g} per step), bin means")

    for ax, column, amplitude, period, label in (
        (weekly_ax, "feature_1", effects.weekly_amplitude, effects.weekly_period, "weekly"),
        (monthly_ax, "feature_2", effects.monthly_amplitude, effects.monthly_period, "monthly"),
    ):
        values = timeseries_data[column].to_numpy(dtype=np.float64)
        span = pd.Timedelta(period)
        phase, means = _phase_means(values, elapsed, span)
        days = phase * (span / pd.Timedelta("1D"))
        ax.plot(days, means, marker="o", label="mean per phase bin")
        ax.plot(
            days,
            np.nanmean(means) + amplitude * np.sin(2 * np.pi * phase),
            linestyle="--",
            label=f"added: {amplitude:g} sin(2 pi t / {period})",
        )
        ax.set_title(f"{column}: {label} seasonality, folded over one period")
        ax.set_xlabel("days into the period")
        ax.legend(loc="upper right")

    window = min(500, len(timeseries_data))
    ar = timeseries_data["feature_3"].to_numpy(dtype=np.float64)
    lag1 = float(np.corrcoef(ar[:-1], ar[1:])[0, 1])
    ar_ax.plot(dates[:window], ar[:window])
    ar_ax.set_title(
        f"feature_3: AR(1), coefficient {effects.ar_coefficient:g} (measured lag-1 "
        f"autocorrelation {lag1:.3f}); first {window} rows"
    )
    for ax in (trend_ax, weekly_ax, monthly_ax, ar_ax):
        ax.set_ylabel("value")
    return figure


def plot_folds_timeline(fold_summary: pd.DataFrame) -> Figure:
    """The folds on a time axis: each fold's train and test window as bars."""
    summary = _checked_summary(fold_summary)
    figure = _figure(12, 1.2 + 0.6 * len(summary))
    ax = figure.subplots()
    for split, color in (("train", "tab:blue"), ("test", "tab:orange")):
        start = summary[f"{split}_start"]
        ax.barh(
            summary["fold_id"],
            (summary[f"{split}_end"] - start).to_numpy(),
            left=start.to_numpy(),
            height=0.6,
            color=color,
            label=split,
        )
    ax.set_yticks(summary["fold_id"], [f"fold {k}" for k in summary["fold_id"]])
    ax.invert_yaxis()
    ax.set_xlabel("date")
    ax.set_title(f"{len(summary)} expanding-window folds")
    ax.legend(loc="upper right")  # the first (top) fold ends earliest: that corner is free
    return figure


def plot_fold_class_balance(fold_summary: pd.DataFrame) -> Figure:
    """Positive-class ratio per fold, train next to test."""
    summary = _checked_summary(fold_summary)
    figure = _figure(8, 4.5)
    ax = figure.subplots()
    positions = np.arange(len(summary))
    width = 0.4
    for offset, split in ((-width / 2, "train"), (width / 2, "test")):
        bars = ax.bar(
            positions + offset, summary[f"{split}_positive_ratio"], width=width, label=split
        )
        ax.bar_label(bars, fmt="%.3f", fontsize=8)
    ax.set_xticks(positions, [f"fold {k}" for k in summary["fold_id"]])
    ax.set_ylabel("positive-class ratio")
    ax.set_title("Positive-class ratio per fold")
    ax.legend(loc="lower right")
    return figure
