"""Reporting figures: per-fold metric, parameter effects, fit time, feature importance, resource
use and, for regression, predicted vs actual and residuals on the test parts.

Built with the object-oriented API (`matplotlib.figure.Figure`, no pyplot) so they need no GUI
backend (the catalog writes them through Agg) and no global figure registry, which keeps
concurrent nodes (ThreadRunner) from drawing into each other's figures. The report embeds the
same figures, built by the same functions.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from spark_lgbm_tuning.pipelines.tuning.params import TuningParams

from .params import ReportingParams
from .results import OK, PARAM_PREFIX, combo_label, direction, param_columns, require_rows

#: At most this many points in a scatter of test predictions (a seeded sample beyond it).
MAX_POINTS = 5000


def plot_metric_per_fold(
    tuning_results: pd.DataFrame,
    leaderboard: pd.DataFrame,
    tuning_params: TuningParams,
    params: ReportingParams,
) -> Figure:
    """The primary metric per fold for the top `top_n_plot` combinations; gaps are failed folds."""
    require_rows(tuning_results, "tuning_results", ("combo_id", "fold_id", "status"))
    require_rows(leaderboard, "leaderboard", ("rank", "combo_id"))
    metric = tuning_params.primary_metric
    grid_columns = param_columns(leaderboard)
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    folds = sorted(tuning_results["fold_id"].unique())
    for _, row in leaderboard.sort_values("rank").head(params.top_n_plot).iterrows():
        trials = tuning_results[tuning_results["combo_id"] == row["combo_id"]]
        values = (
            trials.assign(value=trials[metric].where(trials["status"] == OK))
            .groupby("fold_id")["value"]
            .mean()
            .reindex(folds)
        )
        ax.plot(
            folds, values.to_numpy(dtype=float), marker="o", label=combo_label(row, grid_columns)
        )
    ax.set_xticks(folds)
    ax.set_xlabel("fold")
    ax.set_ylabel(metric)
    ax.set_title(
        f"{metric} per fold, top {min(params.top_n_plot, len(leaderboard))} combinations "
        f"({direction(metric)} is better)"
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return fig


def plot_param_effects(leaderboard: pd.DataFrame, tuning_params: TuningParams) -> Figure:
    """Each tuned parameter against the combinations' mean primary metric (dots) and its average."""
    require_rows(leaderboard, "leaderboard", ("combo_id",))
    metric = tuning_params.primary_metric
    metric_column = f"{metric}_mean"
    grid_columns = param_columns(leaderboard)
    if not grid_columns:
        fig = Figure(figsize=(6, 2))
        fig.text(0.5, 0.5, "No tuned parameter (the grid is empty).", ha="center", va="center")
        return fig
    ncols = min(3, len(grid_columns))
    nrows = math.ceil(len(grid_columns) / ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.4 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, column in zip(axes, grid_columns, strict=False):
        frame = leaderboard[[column, metric_column]].dropna(subset=[metric_column])
        numeric = pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(
            frame[column]
        )
        if numeric:
            positions = frame[column].astype(float)
            means = frame.groupby(column)[metric_column].mean().sort_index()
            ax.scatter(positions, frame[metric_column], alpha=0.5, s=18)
            ax.plot(means.index.astype(float), means.to_numpy(), color="black", marker="D")
            values = positions[positions > 0]
            if len(values) == len(positions) and values.max() / values.min() >= 20:
                ax.set_xscale("log")
        else:
            labels = sorted(frame[column].astype(str).unique())
            codes = frame[column].astype(str).map({label: i for i, label in enumerate(labels)})
            means = frame.groupby(codes)[metric_column].mean().sort_index()
            ax.scatter(codes, frame[metric_column], alpha=0.5, s=18)
            ax.plot(means.index, means.to_numpy(), color="black", marker="D")
            ax.set_xticks(range(len(labels)), labels)
        ax.set_xlabel(column.removeprefix(PARAM_PREFIX))
        ax.set_ylabel(metric_column)
        ax.grid(alpha=0.3)
    for ax in axes[len(grid_columns) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"Parameter effects on {metric} "
        f"(dots: combinations, diamonds: average; {direction(metric)} is better)"
    )
    return fig


def plot_fit_time_vs_metric(leaderboard: pd.DataFrame, tuning_params: TuningParams) -> Figure:
    """Mean fit time against the mean primary metric per combination; the best one highlighted."""
    metric = tuning_params.primary_metric
    metric_column = f"{metric}_mean"
    require_rows(leaderboard, "leaderboard", ("rank", "fit_s_mean", metric_column))
    frame = leaderboard.dropna(subset=["fit_s_mean", metric_column]).sort_values("rank")
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    ax.scatter(frame["fit_s_mean"], frame[metric_column], alpha=0.6, label="combination")
    if not frame.empty:
        best = frame.iloc[0]
        ax.scatter(
            [best["fit_s_mean"]],
            [best[metric_column]],
            color="crimson",
            s=90,
            marker="*",
            label=f"best: {best['combo_id']}",
        )
    ax.set_xlabel("mean fit time per fold (s)")
    ax.set_ylabel(metric_column)
    ax.set_title(f"Fit time vs {metric}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_feature_importance(feature_importance: pd.DataFrame, params: ReportingParams) -> Figure:
    """The refit model's top `top_n_features` features by gain, with their split counts."""
    require_rows(
        feature_importance, "feature_importance", ("feature", "importance_gain", "importance_split")
    )
    top = feature_importance.sort_values("importance_gain", ascending=False).head(
        params.top_n_features
    )[::-1]
    fig = Figure(figsize=(9, max(3.0, 0.28 * len(top) + 1.2)), layout="constrained")
    gain_ax, split_ax = fig.subplots(1, 2, sharey=True)
    gain_ax.barh(top["feature"], top["importance_gain"], color="steelblue")
    split_ax.barh(top["feature"], top["importance_split"], color="darkorange")
    gain_ax.set_xlabel("total gain")
    split_ax.set_xlabel("number of splits")
    fig.suptitle(f"Refit model: top {len(top)} features by gain")
    return fig


def plot_resource_use(tuning_results: pd.DataFrame) -> Figure:
    """Per-trial peak RSS and CPU utilisation over the run, one colour per executor."""
    columns = ("executor_id", "peak_rss_mb", "cpu_utilisation")
    require_rows(tuning_results, "tuning_results", columns)
    frame = tuning_results.copy()
    if "started_at" in frame and frame["started_at"].notna().any():
        started = pd.to_datetime(frame["started_at"], utc=True)
        frame["x"] = (started - started.min()).dt.total_seconds()
        x_label = "trial start (s since the first trial)"
    else:
        frame["x"] = np.arange(len(frame))
        x_label = "trial"
    fig = Figure(figsize=(9, 6), layout="constrained")
    rss_ax, cpu_ax = fig.subplots(2, 1, sharex=True)
    for executor, trials in frame.groupby(frame["executor_id"].astype(str), sort=True):
        ok = trials["status"] == OK if "status" in trials else pd.Series(True, trials.index)
        for ax, column in ((rss_ax, "peak_rss_mb"), (cpu_ax, "cpu_utilisation")):
            line = ax.scatter(
                trials.loc[ok, "x"], trials.loc[ok, column], s=16, label=f"executor {executor}"
            )
            ax.scatter(
                trials.loc[~ok, "x"],
                trials.loc[~ok, column],
                s=40,
                marker="x",
                color=line.get_facecolor(),
            )
    rss_ax.set_ylabel("peak RSS (MB)")
    cpu_ax.set_ylabel("CPU utilisation")
    cpu_ax.set_xlabel(x_label)
    rss_ax.legend(fontsize=7, loc="best")
    for ax in (rss_ax, cpu_ax):
        ax.grid(alpha=0.3)
    fig.suptitle("Resource use per trial (x: failed or timed-out trial)")
    return fig


def _sampled(test_predictions: pd.DataFrame) -> pd.DataFrame:
    require_rows(test_predictions, "test_predictions", ("fold_id", "actual", "predicted"))
    if len(test_predictions) <= MAX_POINTS:
        return test_predictions
    return test_predictions.sample(n=MAX_POINTS, random_state=0).sort_index()


def plot_predicted_vs_actual(test_predictions: pd.DataFrame) -> Figure:
    """Out-of-fold predictions against the actual target, one colour per fold, with y = x."""
    frame = _sampled(test_predictions)
    residual = test_predictions["actual"] - test_predictions["predicted"]
    rmse = float(np.sqrt(np.mean(residual**2)))
    spread = float(np.sum((test_predictions["actual"] - test_predictions["actual"].mean()) ** 2))
    r2 = 1 - float(np.sum(residual**2)) / spread if spread > 0 else float("nan")
    fig = Figure(figsize=(6.5, 6), layout="constrained")
    ax = fig.subplots()
    for fold_id, part in frame.groupby("fold_id", sort=True):
        ax.scatter(part["actual"], part["predicted"], s=8, alpha=0.5, label=f"fold {fold_id}")
    low = float(min(frame["actual"].min(), frame["predicted"].min()))
    high = float(max(frame["actual"].max(), frame["predicted"].max()))
    ax.plot([low, high], [low, high], color="black", linewidth=1, label="predicted = actual")
    ax.set_xlabel("actual")
    ax.set_ylabel("predicted (model fit on the fold's train part)")
    ax.set_title(f"Test parts: predicted vs actual (RMSE {rmse:.4g}, R² {r2:.4f})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def plot_residuals(test_predictions: pd.DataFrame) -> Figure:
    """Residuals (actual - predicted) on the test parts: against the prediction, and their spread."""
    frame = _sampled(test_predictions)
    residual = test_predictions["actual"] - test_predictions["predicted"]
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    scatter_ax, hist_ax = fig.subplots(1, 2)
    for fold_id, part in frame.groupby("fold_id", sort=True):
        scatter_ax.scatter(
            part["predicted"],
            part["actual"] - part["predicted"],
            s=8,
            alpha=0.5,
            label=f"fold {fold_id}",
        )
    scatter_ax.axhline(0, color="black", linewidth=1)
    scatter_ax.set_xlabel("predicted")
    scatter_ax.set_ylabel("residual (actual - predicted)")
    scatter_ax.legend(fontsize=8)
    hist_ax.hist(residual, bins=50, color="steelblue")
    hist_ax.axvline(0, color="black", linewidth=1)
    hist_ax.set_xlabel("residual")
    hist_ax.set_ylabel("test rows")
    for ax in (scatter_ax, hist_ax):
        ax.grid(alpha=0.3)
    fig.suptitle(f"Residuals on {len(test_predictions)} test rows (mean {residual.mean():.4g})")
    return fig
