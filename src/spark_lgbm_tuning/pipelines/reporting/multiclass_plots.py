"""Figures of a multiclass winner's out-of-fold predictions: each class one-vs-rest (ROC,
precision-recall, calibration) and the N x N confusion matrix of the most probable class.

The predictions carry `probability_<label>` for each class, in class order (predictions.py), and
`predicted`, the most probable class number; prediction_plots.py hands a multiclass frame here, so the
binary figures stay as they are. One trace per class, pooled over every fold's test part.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.metrics import confusion_matrix, roc_auc_score

from spark_lgbm_tuning.executor.predict import PROBABILITY_PREFIX

from .params import ReportingParams
from .plots import confusion_heatmap, precision_recall_trace, roc_trace, styled
from .results import ReportingError


def is_multiclass(test_predictions: pd.DataFrame) -> bool:
    """Whether the predictions hold one probability per class (a multiclass search's)."""
    return any(str(column).startswith(PROBABILITY_PREFIX) for column in test_predictions.columns)


def class_probabilities(test_predictions: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(class labels, actual classes, rows x K probabilities): class k's probability is the k-th
    `probability_<label>` column (predictions.py names them by input_encoding's classes)."""
    names = [c for c in test_predictions.columns if str(c).startswith(PROBABILITY_PREFIX)]
    actual = test_predictions["actual"].to_numpy()
    if not np.isin(actual, np.arange(len(names))).all():
        raise ReportingError(
            f"test_predictions' actual classes {sorted(set(actual.tolist()))[:8]} are not all "
            f"among the {len(names)} classes 0..{len(names) - 1} of their probabilities: "
            "rerun the tuning pipeline before reporting."
        )
    labels = [str(name).removeprefix(PROBABILITY_PREFIX) for name in names]
    probabilities = test_predictions[names].to_numpy(dtype=np.float64)
    return labels, actual.astype(int), probabilities


def _one_vs_rest(test_predictions: pd.DataFrame):
    """(label, is that class, P(that class)) per class present with other rows beside it."""
    labels, actual, probabilities = class_probabilities(test_predictions)
    for k, label in enumerate(labels):
        positive = actual == k
        if 0 < positive.sum() < len(actual):
            yield label, positive.astype(int), probabilities[:, k]


def plot_roc_one_vs_rest(test_predictions: pd.DataFrame) -> go.Figure:
    """Each class's one-vs-rest ROC curve over all test parts, its AUC in the legend."""
    fig = go.Figure()
    aucs = []
    for name, positive, probability in _one_vs_rest(test_predictions):
        aucs.append(roc_auc_score(positive, probability))
        fig.add_trace(roc_trace(positive, probability, f"{name} vs rest"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dot"}))
    fig.update_xaxes(title="false positive rate", range=[0, 1])
    fig.update_yaxes(title="true positive rate", range=[0, 1.02])
    macro = f" (macro AUC {np.mean(aucs):.4f})" if aucs else ""
    return styled(fig, f"One-vs-rest ROC curve per class, all folds{macro}", height=500)


def plot_precision_recall_one_vs_rest(test_predictions: pd.DataFrame) -> go.Figure:
    """Each class's one-vs-rest precision against recall over all test parts, AP in the legend."""
    fig = go.Figure()
    for name, positive, probability in _one_vs_rest(test_predictions):
        share = f", share {positive.mean():.3f}"
        fig.add_trace(precision_recall_trace(positive, probability, f"{name} vs rest", share))
    fig.update_xaxes(title="recall", range=[0, 1])
    fig.update_yaxes(title="precision", range=[0, 1.02])
    return styled(fig, "One-vs-rest precision-recall curve per class, all folds", height=500)


def plot_confusion_matrix_multiclass(test_predictions: pd.DataFrame) -> go.Figure:
    """N x N counts of actual vs most probable class over all test parts, row shares in text."""
    labels, actual, probabilities = class_probabilities(test_predictions)
    classes = list(range(len(labels)))
    counts = confusion_matrix(actual, probabilities.argmax(axis=1), labels=classes)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    fig, accuracy = confusion_heatmap(counts, list(labels), share)
    title = (
        f"Confusion matrix of the most probable class ({len(actual)} test rows, "
        f"accuracy {accuracy:.4f}; % of each actual class)"
    )
    return styled(fig, title, height=max(420, 60 * len(classes) + 200))


def plot_calibration_one_vs_rest(
    test_predictions: pd.DataFrame, params: ReportingParams
) -> go.Figure:
    """Per class: the observed share of the class against its mean predicted probability, in
    `reporting.calibration_bins` equal-width bins, all folds."""
    edges = np.linspace(0, 1, params.calibration_bins + 1)
    fig = go.Figure()
    for name, positive, probability in _one_vs_rest(test_predictions):
        bins = np.clip(np.digitize(probability, edges[1:-1]), 0, len(edges) - 2)
        table = (
            pd.DataFrame({"bin": bins, "predicted": probability, "observed": positive})
            .groupby("bin")
            .agg(
                mean_predicted=("predicted", "mean"),
                observed=("observed", "mean"),
                rows=("bin", "size"),
            )
        )
        fig.add_trace(
            go.Scatter(
                x=table["mean_predicted"],
                y=table["observed"],
                mode="lines+markers",
                name=name,
                customdata=table["rows"],
                hovertemplate="predicted %{x:.3f}, observed %{y:.3f} (%{customdata} rows)",
            )
        )
    fig.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot"})
    )
    fig.update_xaxes(title="predicted P(class)", range=[0, 1])
    fig.update_yaxes(title="observed share of the class", range=[0, 1.02])
    return styled(fig, "Calibration per class (one vs rest), all folds", height=500)
