"""The out-of-fold figures: ROC, precision-recall, confusion matrix, calibration and learning
curves (classification), predicted vs actual and residuals (regression)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from kedro_datasets.plotly import JSONDataset

from spark_lgbm_tuning.pipelines.reporting.nodes import rank_combinations, select_best_params
from spark_lgbm_tuning.pipelines.reporting.params import ReportingParams
from spark_lgbm_tuning.pipelines.reporting.prediction_plots import (
    MAX_POINTS,
    drawn_for,
    is_drawn,
    plot_calibration,
    plot_confusion_matrix,
    plot_learning_curves,
    plot_precision_recall,
    plot_predicted_vs_actual,
    plot_residuals,
    plot_roc_curve,
)
from spark_lgbm_tuning.pipelines.reporting.predictions import select_test_predictions
from spark_lgbm_tuning.pipelines.reporting.results import ReportingError
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams

from .conftest import kept_predictions


def _known(n: int = 4000, seed: int = 3) -> pd.DataFrame:
    """Two folds of perfectly calibrated probabilities: P(actual = 1) is `predicted`."""
    rng = np.random.default_rng(seed)
    predicted = rng.uniform(size=n)
    return pd.DataFrame(
        {
            "fold_id": np.repeat([0, 1], n // 2),
            "row": np.arange(n),
            "actual": (rng.uniform(size=n) < predicted).astype(int),
            "predicted": predicted,
        }
    )


def test_roc_and_precision_recall_have_a_curve_per_fold_and_pooled(outputs, tmp_path):
    predictions = outputs["test_predictions"]
    for plot in (plot_roc_curve, plot_precision_recall):
        figure = plot(predictions)
        names = [trace.name for trace in figure.data]
        assert [name.split(" (")[0] for name in names[:3]] == ["fold 0", "fold 1", "all folds"]
        dataset = JSONDataset(filepath=str(tmp_path / f"{plot.__name__}.json"))
        dataset.save(figure)
        assert dataset.load() == figure
    # A strong signal in the fixture data: the pooled AUC is far above chance.
    pooled = plot_roc_curve(predictions).data[2].name
    assert float(pooled.split("AUC ")[1].rstrip(")")) > 0.8
    # Long curves are thinned to MAX_POINTS, first and last points kept.
    long = plot_precision_recall(_known(20_000)).data[2]
    assert len(long.x) <= MAX_POINTS and long.x[-1] == 0.0


def test_confusion_matrix_counts_every_test_row_at_the_threshold(outputs):
    predictions = outputs["test_predictions"]
    default = plot_confusion_matrix(predictions, ReportingParams())
    counts = np.array(default.data[0].z)
    assert counts.sum() == len(predictions)
    assert counts[1].sum() == predictions["actual"].sum()  # row 1: the actual positives
    assert "threshold 0.5 " in default.layout.title.text
    # A threshold under every prediction: every row predicted 1.
    low = np.array(plot_confusion_matrix(predictions, ReportingParams(threshold=1e-9)).data[0].z)
    assert low[:, 0].sum() == 0 and low[:, 1].sum() == len(predictions)


def test_calibration_of_calibrated_probabilities_follows_the_diagonal():
    figure = plot_calibration(_known(), ReportingParams(calibration_bins=5))
    model = figure.data[0]
    assert len(model.x) == 5 and sum(model.customdata) == 4000
    np.testing.assert_allclose(model.y, model.x, atol=0.05)
    # Always-0.9 predictions on a 50 % base rate: far off the diagonal.
    over = _known().assign(predicted=0.9, actual=np.tile([0, 1], 2000))
    off = plot_calibration(over, ReportingParams()).data[0]
    assert (list(off.x), list(off.y)) == ([pytest.approx(0.9)], [0.5])


def test_learning_curves_have_a_line_and_a_best_marker_per_fold(outputs):
    figure = plot_learning_curves(outputs["learning_curves"])
    lines = [trace for trace in figure.data if trace.mode == "lines"]
    markers = [trace for trace in figure.data if trace.mode == "markers"]
    assert [line.name for line in lines] == ["binary_logloss, fold 0", "binary_logloss, fold 1"]
    per_fold = outputs["learning_curves"].groupby("fold_id")
    assert [len(line.x) for line in lines] == per_fold.size().tolist()
    assert [list(marker.x) for marker in markers] == [
        [best] for best in per_fold["best_iteration"].first()
    ]


@pytest.mark.parametrize(
    "plot",
    [
        plot_roc_curve,
        plot_precision_recall,
        lambda frame: plot_confusion_matrix(frame, ReportingParams()),
        lambda frame: plot_calibration(frame, ReportingParams()),
    ],
)
def test_classification_figures_refuse_other_targets(plot, outputs):
    predictions = outputs["test_predictions"]
    with pytest.raises(ReportingError, match="test_predictions is empty"):
        plot(predictions.iloc[0:0])
    with pytest.raises(ReportingError, match="binary classification only"):
        plot(predictions.assign(actual=predictions["actual"] * 2.5))
    with pytest.raises(ReportingError, match="binary classification only"):
        plot(predictions.assign(actual=1))


def test_learning_curves_refuse_an_incomplete_table(outputs):
    with pytest.raises(ReportingError, match=r"lacks the column\(s\) \['best_iteration'\]"):
        plot_learning_curves(outputs["learning_curves"].drop(columns="best_iteration"))


def test_a_search_of_fixed_rounds_has_no_learning_curves_and_says_so(outputs):
    figure = plot_learning_curves(outputs["learning_curves"].iloc[0:0])
    assert not figure.data
    assert "fixed rounds" in figure.layout.annotations[0].text


# ------------------------------------------------------------------------------------ regression
@pytest.fixture(scope="module")
def regression_predictions(
    regression_results, regression_tuning, regression_data, regression_folds, params
) -> pd.DataFrame:
    board, _ = rank_combinations(regression_results, regression_tuning, params)
    best = select_best_params(board, regression_results, regression_tuning, params)
    kept, curves = kept_predictions(
        regression_results, regression_data, regression_folds, regression_tuning
    )
    return select_test_predictions(best, kept, curves, regression_tuning)[0]


def test_predicted_vs_actual_shows_every_fold_and_the_diagonal(regression_predictions):
    figure = plot_predicted_vs_actual(regression_predictions)
    names = [trace.name for trace in figure.data]
    assert names == ["fold 0", "fold 1", "fold 2", "predicted = actual"]
    assert list(figure.data[-1].x) == list(figure.data[-1].y)
    assert sum(len(trace.x) for trace in figure.data[:-1]) == len(regression_predictions)
    residual = regression_predictions["residual"]
    assert f"RMSE {(residual**2).mean() ** 0.5:.4g}" in figure.layout.title.text
    assert isinstance(figure, go.Figure)


def test_residuals_scatter_and_histogram(regression_predictions):
    figure = plot_residuals(regression_predictions)
    scatters = [trace for trace in figure.data if trace.type == "scatter"]
    (histogram,) = [trace for trace in figure.data if trace.type == "histogram"]
    assert sum(len(trace.x) for trace in scatters) == len(regression_predictions)
    assert len(histogram.x) == len(regression_predictions)
    assert f"{len(regression_predictions)} test rows" in figure.layout.title.text


def test_large_predictions_are_sampled_for_the_scatter(regression_predictions):
    many = regression_predictions.sample(n=6000, replace=True, random_state=1)
    figure = plot_predicted_vs_actual(many.reset_index(drop=True))
    assert sum(len(trace.x) for trace in figure.data[:-1]) == MAX_POINTS


@pytest.mark.parametrize("plot", [plot_predicted_vs_actual, plot_residuals])
def test_regression_figures_refuse_empty_or_incomplete_input(plot, regression_predictions):
    with pytest.raises(ReportingError, match="test_predictions is empty"):
        plot(regression_predictions.iloc[0:0])
    with pytest.raises(ReportingError, match=r"lacks the column\(s\) \['predicted'\]"):
        plot(regression_predictions.drop(columns="predicted"))


@pytest.mark.parametrize("task", ["classification", "multiclass", "regression"])
def test_a_figure_node_draws_for_its_own_tasks_only(task, tmp_path):
    """drawn_for: the run's tuning.task decides; the other task's figure is a marked placeholder
    that survives the catalog's plotly JSON (the report reads it back to leave it out)."""
    objective = {"classification": "binary", "multiclass": "multiclass"}.get(task, task)
    tuning = TuningParams(task=task, fixed={"objective": objective}, grid={"num_leaves": [7]})
    roc = drawn_for(("classification", "multiclass"), plot_roc_curve)
    residuals = drawn_for(("regression",), plot_residuals)
    classes = _known(400)
    numbers = classes.assign(actual=classes["predicted"] * 3 + 1)

    drawn = roc(tuning, classes) if task != "regression" else residuals(tuning, numbers)
    other = residuals(tuning, numbers) if task != "regression" else roc(tuning, classes)

    dataset = JSONDataset(filepath=str(tmp_path / "figure.json"))
    dataset.save(other)
    assert is_drawn(drawn) and not is_drawn(dataset.load())
    assert f"this search's task is {task}" in other.layout.annotations[0].text
    assert roc.__name__ == "plot_roc_curve"  # the node's function name, as kedro viz shows it
