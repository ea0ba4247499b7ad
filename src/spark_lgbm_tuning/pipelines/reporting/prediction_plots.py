"""Figures of the best combination's out-of-fold predictions (predictions.py): ROC and
precision-recall curves, the confusion matrix at `reporting.threshold`, calibration and learning
curves for classification (multiclass: per class and N x N, multiclass_plots.py); predicted vs
actual and residuals for regression.

One trace per fold (each fold's test part predicted by that fold's model), plus the pooled
curve where pooling means something, so a fold that behaves differently stands out.

`drawn_for` makes a figure node of the run's task: the reporting pipeline of a user's table does
not know at build time whether `tuning.task` is a classification or a regression, so it holds
both tasks' figures and each draws only for its own (the other is marked not drawn, and the
report leaves it out).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from sklearn.metrics import (
    confusion_matrix,
)

from spark_lgbm_tuning.pipelines.tuning.params import TuningParams

from .multiclass_plots import (
    is_multiclass,
    plot_calibration_one_vs_rest,
    plot_confusion_matrix_multiclass,
    plot_precision_recall_one_vs_rest,
    plot_roc_one_vs_rest,
)
from .params import ReportingParams
from .plots import MAX_POINTS, confusion_heatmap, precision_recall_trace, roc_trace, styled
from .predictions import CURVE_COLUMNS, PREDICTION_COLUMNS
from .results import ReportingError, require_rows

# layout.meta key of a figure the run's task does not draw (report.py leaves it out).
NOT_DRAWN = "not_drawn"
CLASSIFICATION_TASKS = ("classification", "multiclass")
REGRESSION_TASKS = ("regression",)


def is_drawn(figure: go.Figure) -> bool:
    """False for the placeholder of a figure that does not apply to the run's task."""
    meta = figure.layout.meta
    return not (isinstance(meta, dict) and meta.get(NOT_DRAWN))


def drawn_for(tasks: tuple[str, ...], plot: Callable[..., go.Figure]) -> Callable[..., go.Figure]:
    """`plot` as a node that takes `params:tuning` first: it draws when the run's task is one of
    `tasks`, and otherwise returns a figure marked not drawn that says why."""

    def figure(tuning_params: TuningParams, *inputs: Any) -> go.Figure:
        if tuning_params.task in tasks:
            return plot(*inputs)
        fig = go.Figure()
        fig.add_annotation(
            text=f"{plot.__name__} applies to task {' or '.join(tasks)}; this search's task is "
            f"{tuning_params.task}.",
            showarrow=False,
        )
        fig.update_layout(meta={NOT_DRAWN: True})
        return styled(fig, "Not drawn for this task", height=120)

    figure.__name__ = figure.__qualname__ = plot.__name__
    figure.__doc__ = plot.__doc__
    return figure


def _binary(test_predictions: pd.DataFrame) -> pd.DataFrame:
    """The predictions, checked to be 0/1 labels with both classes present."""
    require_rows(test_predictions, "test_predictions", tuple(PREDICTION_COLUMNS))
    labels = set(pd.unique(test_predictions["actual"]))
    if not labels <= {0, 1} or len(labels) < 2:
        raise ReportingError(
            f"test_predictions need 0/1 actual labels of both classes, got {sorted(labels)}: "
            "ROC, precision-recall and calibration apply to binary classification only."
        )
    return test_predictions


def _by_fold(predictions: pd.DataFrame):
    """(label, actual, predicted) per fold, then pooled over every fold."""
    for fold_id, part in predictions.groupby("fold_id", sort=True):
        yield f"fold {fold_id}", part["actual"].to_numpy(), part["predicted"].to_numpy()
    yield "all folds", predictions["actual"].to_numpy(), predictions["predicted"].to_numpy()


def _line(name: str) -> dict:
    """The pooled curve drawn thick and black, the folds thin."""
    return {"width": 3, "color": "black"} if name == "all folds" else {"width": 1.5}


def plot_roc_curve(test_predictions: pd.DataFrame) -> go.Figure:
    """ROC curve of each fold's test part and of all of them pooled, AUC in the legend
    (multiclass: each class one vs rest)."""
    if is_multiclass(test_predictions):
        return plot_roc_one_vs_rest(test_predictions)
    fig = go.Figure()
    for name, actual, predicted in _by_fold(_binary(test_predictions)):
        if len(np.unique(actual)) < 2:
            continue  # a single-class test part has no ROC curve
        fig.add_trace(roc_trace(actual, predicted, name, line=_line(name)))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dot"}))
    fig.update_xaxes(title="false positive rate", range=[0, 1])
    fig.update_yaxes(title="true positive rate", range=[0, 1.02])
    return styled(fig, "ROC curve of the out-of-fold predictions", height=500)


def plot_precision_recall(test_predictions: pd.DataFrame) -> go.Figure:
    """Precision against recall per fold and pooled, average precision in the legend
    (multiclass: each class one vs rest)."""
    if is_multiclass(test_predictions):
        return plot_precision_recall_one_vs_rest(test_predictions)
    predictions = _binary(test_predictions)
    fig = go.Figure()
    for name, actual, predicted in _by_fold(predictions):
        fig.add_trace(precision_recall_trace(actual, predicted, name, line=_line(name)))
    base_rate = float(predictions["actual"].mean())
    fig.add_hline(y=base_rate, line_dash="dot", annotation_text=f"positive rate {base_rate:.3f}")
    fig.update_xaxes(title="recall", range=[0, 1])
    fig.update_yaxes(title="precision", range=[0, 1.02])
    return styled(fig, "Precision-recall curve of the out-of-fold predictions", height=500)


def plot_confusion_matrix(test_predictions: pd.DataFrame, params: ReportingParams) -> go.Figure:
    """Counts of actual vs predicted class at P(class 1) >= `reporting.threshold`, all folds
    (multiclass: N x N, the most probable class)."""
    if is_multiclass(test_predictions):
        return plot_confusion_matrix_multiclass(test_predictions)
    predictions = _binary(test_predictions)
    predicted = (predictions["predicted"] >= params.threshold).astype(int)
    counts = confusion_matrix(predictions["actual"].astype(int), predicted, labels=[0, 1])
    share = counts / counts.sum()
    fig, accuracy = confusion_heatmap(counts, ["0", "1"], share)
    title = (
        f"Confusion matrix at threshold {params.threshold:g} "
        f"({len(predictions)} test rows, accuracy {accuracy:.4f})"
    )
    return styled(fig, title, height=420)


def plot_calibration(test_predictions: pd.DataFrame, params: ReportingParams) -> go.Figure:
    """Observed positive rate against mean predicted probability in equal-width bins
    (multiclass: each class one vs rest)."""
    if is_multiclass(test_predictions):
        return plot_calibration_one_vs_rest(test_predictions, params)
    predictions = _binary(test_predictions)
    edges = np.linspace(0, 1, params.calibration_bins + 1)
    bins = np.clip(np.digitize(predictions["predicted"], edges[1:-1]), 0, len(edges) - 2)
    table = (
        predictions.assign(bin=bins)
        .groupby("bin")
        .agg(
            mean_predicted=("predicted", "mean"), observed=("actual", "mean"), rows=("row", "size")
        )
    )
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25])
    fig.add_trace(
        go.Scatter(
            x=table["mean_predicted"],
            y=table["observed"],
            mode="lines+markers",
            name="model",
            customdata=table["rows"],
            hovertemplate="predicted %{x:.3f}, observed %{y:.3f} (%{customdata} rows)",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot"}),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Histogram(
            x=predictions["predicted"],
            xbins={"start": 0, "end": 1, "size": edges[1]},
            name="test rows",
            marker_color="grey",
        ),
        row=2,
        col=1,
    )
    fig.update_xaxes(title="predicted P(class 1)", range=[0, 1], row=2)
    fig.update_yaxes(title="observed positive rate", range=[0, 1.02], row=1)
    fig.update_yaxes(title="rows", row=2)
    return styled(fig, "Calibration of the out-of-fold predictions", height=560)


def plot_learning_curves(learning_curves: pd.DataFrame) -> go.Figure:
    """The test part's validation metric per boosting round, one line per fold and metric;
    a marker at each fold's best iteration (the round its predictions use). A search of fixed
    rounds evaluates no metric while boosting: the figure then says so."""
    if learning_curves is not None and learning_curves.empty:
        fig = go.Figure()
        fig.add_annotation(
            text="No learning curves: the search boosted fixed rounds (no early stopping), "
            "which evaluate no metric per round.",
            showarrow=False,
        )
        return styled(fig, "Learning curves", height=200)
    require_rows(learning_curves, "learning_curves", tuple(CURVE_COLUMNS))
    fig = go.Figure()
    for (metric, fold_id), curve in learning_curves.groupby(["metric", "fold_id"], sort=True):
        name = f"{metric}, fold {fold_id}"
        fig.add_trace(go.Scatter(x=curve["round"], y=curve["value"], mode="lines", name=name))
        best = curve[curve["round"] == curve["best_iteration"]]
        fig.add_trace(
            go.Scatter(
                x=best["round"],
                y=best["value"],
                mode="markers",
                marker={"symbol": "diamond", "size": 10, "color": "black"},
                name=f"best iteration, fold {fold_id}",
                legendgroup="best",
                showlegend=False,
            )
        )
    metrics = ", ".join(sorted(learning_curves["metric"].unique()))
    fig.update_xaxes(title="boosting round")
    fig.update_yaxes(title=f"test part {metrics}")
    return styled(fig, "Learning curves (diamonds: each fold's best iteration)", height=480)


def _sampled(test_predictions: pd.DataFrame) -> pd.DataFrame:
    require_rows(test_predictions, "test_predictions", tuple(PREDICTION_COLUMNS))
    if len(test_predictions) <= MAX_POINTS:
        return test_predictions
    return test_predictions.sample(n=MAX_POINTS, random_state=0).sort_index()


def plot_predicted_vs_actual(test_predictions: pd.DataFrame) -> go.Figure:
    """Out-of-fold predictions against the actual target, one colour per fold, with y = x."""
    frame = _sampled(test_predictions)
    residual = test_predictions["actual"] - test_predictions["predicted"]
    rmse = float(np.sqrt(np.mean(residual**2)))
    spread = float(np.sum((test_predictions["actual"] - test_predictions["actual"].mean()) ** 2))
    r2 = 1 - float(np.sum(residual**2)) / spread if spread > 0 else float("nan")
    fig = go.Figure()
    for fold_id, part in frame.groupby("fold_id", sort=True):
        fig.add_trace(
            go.Scatter(
                x=part["actual"],
                y=part["predicted"],
                mode="markers",
                marker={"size": 4, "opacity": 0.5},
                name=f"fold {fold_id}",
                text=part["row"],
                hovertemplate="row %{text}: actual %{x:.4g}, predicted %{y:.4g}",
            )
        )
    low = float(min(frame["actual"].min(), frame["predicted"].min()))
    high = float(max(frame["actual"].max(), frame["predicted"].max()))
    fig.add_trace(
        go.Scatter(
            x=[low, high],
            y=[low, high],
            mode="lines",
            name="predicted = actual",
            line={"color": "black", "width": 1},
        )
    )
    fig.update_xaxes(title="actual")
    fig.update_yaxes(title="predicted (model fit on the fold's train part)")
    return styled(fig, f"Test parts: predicted vs actual (RMSE {rmse:.4g}, R² {r2:.4f})", 560)


def plot_residuals(test_predictions: pd.DataFrame) -> go.Figure:
    """Residuals (actual - predicted) on the test parts: against the prediction, and their spread."""
    frame = _sampled(test_predictions)
    residual = test_predictions["actual"] - test_predictions["predicted"]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("against the prediction", "distribution"))
    for fold_id, part in frame.groupby("fold_id", sort=True):
        fig.add_trace(
            go.Scatter(
                x=part["predicted"],
                y=part["actual"] - part["predicted"],
                mode="markers",
                marker={"size": 4, "opacity": 0.5},
                name=f"fold {fold_id}",
            ),
            row=1,
            col=1,
        )
    fig.add_hline(y=0, line_color="black", row=1, col=1)
    fig.add_trace(
        go.Histogram(x=residual, nbinsx=50, name="residuals", marker_color="steelblue"),
        row=1,
        col=2,
    )
    fig.update_xaxes(title="predicted", row=1, col=1)
    fig.update_yaxes(title="residual (actual - predicted)", row=1, col=1)
    fig.update_xaxes(title="residual", row=1, col=2)
    fig.update_yaxes(title="test rows", row=1, col=2)
    return styled(
        fig, f"Residuals on {len(test_predictions)} test rows (mean {residual.mean():.4g})", 480
    )
