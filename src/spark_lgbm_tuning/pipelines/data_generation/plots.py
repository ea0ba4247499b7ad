"""Figures of the generated data and its time-ordered folds, for the catalog's `*_plot` datasets.

Built with the object-oriented API on the Agg canvas: headless, and outside pyplot's figure
registry (nothing to close, no cross-talk between concurrent nodes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spark_lgbm_tuning.vocabulary.columns import ColumnParams

from .nodes import TIME_EFFECTS
from .params import DataGenerationParams


def _figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas: headless, and outside pyplot's registry (nothing to close)."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


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


def plot_sample_features(
    timeseries_data: pd.DataFrame, params: DataGenerationParams, columns: ColumnParams
) -> Figure:
    """One panel per time effect, on features 0-3 (trend, weekly, monthly, AR(1))."""
    trend_col, weekly_col, monthly_col, ar_col = (
        columns.feature_name(i) for i in range(len(TIME_EFFECTS))
    )
    needed = [columns.time, trend_col, weekly_col, monthly_col, ar_col]
    missing = sorted(set(needed) - set(timeseries_data.columns))
    if missing:
        raise ValueError(f"timeseries_data lacks column(s) {missing}")
    if len(timeseries_data) < 2:
        raise ValueError("timeseries_data needs at least 2 rows to plot")
    effects = params.time_effects
    dates = pd.DatetimeIndex(timeseries_data[columns.time])
    elapsed = (dates - dates[0]).to_numpy()
    figure = _figure(12, 11)
    trend_ax, weekly_ax, monthly_ax, ar_ax = figure.subplots(4, 1)

    trend = timeseries_data[trend_col].to_numpy(dtype=np.float64)
    n_bins = min(200, len(trend))
    edges = np.linspace(0, len(trend), n_bins + 1).astype(np.int64)
    trend_ax.plot(
        dates[(edges[:-1] + edges[1:]) // 2], np.add.reduceat(trend, edges[:-1]) / np.diff(edges)
    )
    trend_ax.set_title(f"{trend_col}: linear trend ({effects.trend_slope:g} per step), bin means")

    for ax, column, amplitude, period, label in (
        (weekly_ax, weekly_col, effects.weekly_amplitude, effects.weekly_period, "weekly"),
        (monthly_ax, monthly_col, effects.monthly_amplitude, effects.monthly_period, "monthly"),
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
    ar = timeseries_data[ar_col].to_numpy(dtype=np.float64)
    lag1 = float(np.corrcoef(ar[:-1], ar[1:])[0, 1])
    ar_ax.plot(dates[:window], ar[:window])
    ar_ax.set_title(
        f"{ar_col}: AR(1), coefficient {effects.ar_coefficient:g} (measured lag-1 "
        f"autocorrelation {lag1:.3f}); first {window} rows"
    )
    for ax in (trend_ax, weekly_ax, monthly_ax, ar_ax):
        ax.set_ylabel("value")
    return figure
