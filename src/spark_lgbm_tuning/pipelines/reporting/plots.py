"""Figures of the search: per-fold metric, parameter effects, fit time, feature importance and
resource use, as interactive plotly figures (hover shows each point's combination and values).

Each is a plain `go.Figure`: the catalog saves it as plotly JSON (kedro-viz draws it) and the
report embeds it, so the report shows the very figure the catalog holds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.vocabulary.statuses import OK
from spark_lgbm_tuning.vocabulary.trial_columns import COMBO_ID, PARAM_PREFIX, STATUS

from .params import ReportingParams
from .results import combo_label, direction, param_columns, require_rows

#: One look for every report figure: white background, the legend beside the plot.
TEMPLATE = "plotly_white"


#: At most this many points per trace (curves thinned evenly, scatters sampled with a seed).
MAX_POINTS = 2000


def thinned(*arrays: np.ndarray) -> list[np.ndarray]:
    """Every array at the same evenly spaced positions (first and last kept), <= MAX_POINTS."""
    n = len(arrays[0])
    if n <= MAX_POINTS:
        return list(arrays)
    keep = np.unique(np.linspace(0, n - 1, MAX_POINTS).round().astype(int))
    return [array[keep] for array in arrays]


def roc_trace(actual: np.ndarray, score: np.ndarray, label: str, **style) -> go.Scatter:
    """One ROC curve, thinned, with its AUC (of the whole curve) in the legend."""
    fpr, tpr, thresholds = roc_curve(actual, score)
    area = auc(fpr, tpr)
    fpr, tpr, thresholds = thinned(fpr, tpr, thresholds)
    return go.Scatter(
        x=fpr,
        y=tpr,
        mode="lines",
        name=f"{label} (AUC {area:.4f})",
        customdata=thresholds,
        hovertemplate="FPR %{x:.3f}, TPR %{y:.3f}, threshold %{customdata:.3f}",
        **style,
    )


def precision_recall_trace(
    actual: np.ndarray, score: np.ndarray, label: str, note: str = "", **style
) -> go.Scatter:
    """One precision-recall curve, thinned, with its average precision in the legend."""
    precision, recall, thresholds = precision_recall_curve(actual, score)
    ap = average_precision_score(actual, score)
    # precision_recall_curve gives one threshold fewer than points; the last point has none.
    thresholds = np.append(thresholds, np.nan)
    precision, recall, thresholds = thinned(precision, recall, thresholds)
    return go.Scatter(
        x=recall,
        y=precision,
        mode="lines",
        name=f"{label} (AP {ap:.4f}{note})",
        customdata=thresholds,
        hovertemplate="recall %{x:.3f}, precision %{y:.3f}, threshold %{customdata:.3f}",
        **style,
    )


def confusion_heatmap(
    counts: np.ndarray, labels: list[str], share: np.ndarray
) -> tuple[go.Figure, float]:
    """Actual (rows) against predicted (columns) counts, each with its `share`; the accuracy."""
    size = range(len(labels))
    text = [[f"{counts[i, j]}<br>({share[i, j]:.1%})" for j in size] for i in size]
    fig = go.Figure(
        go.Heatmap(
            z=counts,
            x=[f"predicted {label}" for label in labels],
            y=[f"actual {label}" for label in labels],
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            hovertemplate="%{y}, %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return fig, float(np.trace(counts) / counts.sum())


def styled(fig: go.Figure, title: str, height: int = 450) -> go.Figure:
    """`fig` with the report's template, its title and a margin wide enough for the labels."""
    fig.update_layout(
        template=TEMPLATE, title={"text": title, "x": 0.01}, height=height, margin={"t": 60}
    )
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def _hover_labels(frame: pd.DataFrame) -> list[str]:
    """One label per row: its combination and grid values, for hover text."""
    grid_columns = param_columns(frame)
    return [combo_label(row, grid_columns) for _, row in frame.iterrows()]


def plot_metric_per_fold(
    tuning_results: pd.DataFrame,
    leaderboard: pd.DataFrame,
    tuning_params: TuningParams,
    params: ReportingParams,
) -> go.Figure:
    """The primary metric per fold for the top `top_n_plot` combinations; gaps are failed folds."""
    require_rows(tuning_results, "tuning_results", (COMBO_ID, "fold_id", STATUS))
    require_rows(leaderboard, "leaderboard", ("rank", COMBO_ID))
    metric = tuning_params.primary_metric
    grid_columns = param_columns(leaderboard)
    folds = sorted(int(fold) for fold in tuning_results["fold_id"].unique())
    fig = go.Figure()
    top = leaderboard.sort_values("rank").head(params.top_n_plot)
    for _, row in top.iterrows():
        trials = tuning_results[tuning_results[COMBO_ID] == row[COMBO_ID]]
        values = (
            trials.assign(value=trials[metric].where(trials[STATUS] == OK))
            .groupby("fold_id")["value"]
            .mean()
            .reindex(folds)
        )
        fig.add_trace(
            go.Scatter(
                x=folds,
                y=values.to_numpy(dtype=float),
                mode="lines+markers",
                name=combo_label(row, grid_columns),
            )
        )
    fig.update_xaxes(title="fold", tickmode="array", tickvals=folds)
    fig.update_yaxes(title=metric)
    title = f"{metric} per fold, top {len(top)} combinations ({direction(metric)} is better)"
    return styled(fig, title)


def plot_param_effects(leaderboard: pd.DataFrame, tuning_params: TuningParams) -> go.Figure:
    """Each tuned parameter against the combinations' mean primary metric (dots) and its average."""
    require_rows(leaderboard, "leaderboard", ("rank", COMBO_ID))
    metric_column = f"{tuning_params.primary_metric}_mean"
    grid_columns = param_columns(leaderboard)
    if not grid_columns:
        fig = go.Figure()
        fig.add_annotation(text="No tuned parameter (the grid is empty).", showarrow=False)
        return styled(fig, "Parameter effects", height=200)
    ncols = min(3, len(grid_columns))
    nrows = math.ceil(len(grid_columns) / ncols)
    names = [column.removeprefix(PARAM_PREFIX) for column in grid_columns]
    fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=names, shared_yaxes=True)
    frame = leaderboard.dropna(subset=[metric_column])
    labels = _hover_labels(frame)
    for index, column in enumerate(grid_columns):
        position = {"row": index // ncols + 1, "col": index % ncols + 1}
        # Categories as text, so a numeric axis never interpolates between grid values.
        values = frame[column].astype(str)
        means = frame.groupby(values)[metric_column].mean()
        order = sorted(means.index, key=_grid_sort_key)
        fig.add_trace(
            go.Scatter(
                x=values,
                y=frame[metric_column],
                mode="markers",
                marker={"opacity": 0.5, "color": "steelblue"},
                text=labels,
                hovertemplate="%{text}<br>" + metric_column + " %{y:.5g}<extra></extra>",
                showlegend=False,
            ),
            **position,
        )
        fig.add_trace(
            go.Scatter(
                x=order,
                y=means[order],
                mode="lines+markers",
                marker={"symbol": "diamond", "color": "black"},
                name="average",
                showlegend=index == 0,
            ),
            **position,
        )
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=order, **position)
    fig.update_yaxes(title=metric_column, col=1)
    return styled(
        fig,
        f"Parameter effects on {metric_column} ({direction(tuning_params.primary_metric)} is "
        "better)",
        height=320 * nrows + 80,
    )


def _grid_sort_key(value: str) -> tuple[int, float, str]:
    """Numbers in numeric order, then text in alphabetical order."""
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def plot_fit_time_vs_metric(leaderboard: pd.DataFrame, tuning_params: TuningParams) -> go.Figure:
    """Mean fit time against the mean primary metric per combination; the best one highlighted."""
    metric_column = f"{tuning_params.primary_metric}_mean"
    require_rows(leaderboard, "leaderboard", ("rank", COMBO_ID, "fit_s_mean", metric_column))
    frame = leaderboard.dropna(subset=["fit_s_mean", metric_column]).sort_values("rank")
    fig = go.Figure(
        go.Scatter(
            x=frame["fit_s_mean"],
            y=frame[metric_column],
            mode="markers",
            name="combination",
            text=_hover_labels(frame),
            hovertemplate="%{text}<br>fit %{x:.3g} s, %{y:.5g}<extra></extra>",
        )
    )
    if not frame.empty:
        best = frame.iloc[:1]
        fig.add_trace(
            go.Scatter(
                x=best["fit_s_mean"],
                y=best[metric_column],
                mode="markers",
                marker={"symbol": "star", "size": 16, "color": "crimson"},
                name=f"best: {best['combo_id'].iloc[0]}",
            )
        )
    fig.update_xaxes(title="mean fit time per fold (s)")
    fig.update_yaxes(title=metric_column)
    return styled(fig, f"Fit time vs {metric_column}")


def plot_feature_importance(feature_importance: pd.DataFrame, params: ReportingParams) -> go.Figure:
    """The refit model's top `top_n_features` features by gain, with their split counts.

    One bar per feature, a row of its own: the figure grows with the number of features and
    the label margin with the longest name, so the labels never overlap.
    """
    require_rows(
        feature_importance, "feature_importance", ("feature", "importance_gain", "importance_split")
    )
    top = feature_importance.sort_values("importance_gain", ascending=False).head(
        params.top_n_features
    )[::-1]
    fig = make_subplots(
        rows=1, cols=2, shared_yaxes=True, subplot_titles=("total gain", "number of splits")
    )
    features = top["feature"].astype(str)
    fig.add_trace(
        go.Bar(x=top["importance_gain"], y=features, orientation="h", name="gain"), row=1, col=1
    )
    fig.add_trace(
        go.Bar(x=top["importance_split"], y=features, orientation="h", name="splits"),
        row=1,
        col=2,
    )
    fig.update_traces(marker_color="steelblue", selector={"name": "gain"})
    fig.update_traces(marker_color="darkorange", selector={"name": "splits"})
    fig.update_yaxes(type="category", tickmode="linear", dtick=1)
    fig.update_layout(showlegend=False, bargap=0.25)
    return styled(fig, f"Refit model: top {len(top)} features by gain", 22 * len(top) + 140)


def plot_resource_use(tuning_results: pd.DataFrame) -> go.Figure:
    """Per-trial peak RSS and CPU utilisation over the run, one colour per executor."""
    require_rows(
        tuning_results, "tuning_results", ("executor_id", "peak_rss_mb", "cpu_utilisation")
    )
    frame = tuning_results.copy()
    if "started_at" in frame and frame["started_at"].notna().any():
        started = pd.to_datetime(frame["started_at"], utc=True)
        frame["x"] = (started - started.min()).dt.total_seconds()
        x_label = "trial start (s since the first trial)"
    else:
        frame["x"] = np.arange(len(frame))
        x_label = "trial"
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    ok = frame[STATUS] == OK if STATUS in frame else pd.Series(True, frame.index)
    frame["symbol"] = np.where(ok, "circle", "x")
    for executor, trials in frame.groupby(frame["executor_id"].astype(str), sort=True):
        for row, column in ((1, "peak_rss_mb"), (2, "cpu_utilisation")):
            fig.add_trace(
                go.Scatter(
                    x=trials["x"],
                    y=trials[column],
                    mode="markers",
                    marker={"symbol": trials["symbol"], "size": 8},
                    name=f"executor {executor}",
                    legendgroup=executor,
                    showlegend=row == 1,
                    text=trials.get("trial_id"),
                ),
                row=row,
                col=1,
            )
    fig.update_yaxes(title="peak RSS (MB)", row=1)
    fig.update_yaxes(title="CPU utilisation", row=2)
    fig.update_xaxes(title=x_label, row=2)
    return styled(fig, "Resource use per trial (x: failed or timed-out trial)", height=560)
