"""The reporting figures: each a Figure the catalog saves as PNG, each refusing input it cannot plot."""

from __future__ import annotations

import pytest
from kedro_datasets.matplotlib import MatplotlibDataset
from matplotlib.figure import Figure

from spark_lgbm_tuning.pipelines.reporting.nodes import (
    predict_test_parts,
    rank_combinations,
    select_best_params,
)
from spark_lgbm_tuning.pipelines.reporting.plots import (
    plot_feature_importance,
    plot_fit_time_vs_metric,
    plot_metric_per_fold,
    plot_param_effects,
    plot_predicted_vs_actual,
    plot_residuals,
    plot_resource_use,
)
from spark_lgbm_tuning.pipelines.reporting.results import ReportingError

from .conftest import COLUMNS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_each_plot_is_a_figure_the_catalog_saves_as_png(outputs, tuning_params, params, tmp_path):
    results, board = outputs["results"], outputs["leaderboard"]
    figures = {
        "metric_per_fold": plot_metric_per_fold(results, board, tuning_params, params),
        "param_effects": plot_param_effects(board, tuning_params),
        "fit_time_vs_metric": plot_fit_time_vs_metric(board, tuning_params),
        "feature_importance": plot_feature_importance(outputs["feature_importance"], params),
        "resource_use": plot_resource_use(outputs["results"]),
    }
    for name, figure in figures.items():
        assert isinstance(figure, Figure), name
        path = tmp_path / f"{name}.png"
        MatplotlibDataset(filepath=str(path), save_args={"format": "png"}).save(figure)
        assert path.read_bytes().startswith(PNG_MAGIC), name

    per_fold = figures["metric_per_fold"].axes[0]
    assert len(per_fold.get_lines()) == 3  # three combinations, fewer than top_n_plot
    assert per_fold.get_legend().get_texts()[0].get_text().startswith("#1 c_b")
    assert (per_fold.get_ylabel(), figures["fit_time_vs_metric"].axes[0].get_ylabel()) == (
        "auc_roc",
        "auc_roc_mean",
    )
    # Two tuned parameters -> two panels.
    assert [ax.get_xlabel() for ax in figures["param_effects"].axes] == [
        "num_leaves",
        "learning_rate",
    ]
    # Executors "0" and "1" each get a colour on both panels.
    assert len(figures["resource_use"].axes[0].get_legend().get_texts()) == 2


@pytest.mark.parametrize(
    ("plot", "make_args"),
    [
        (plot_metric_per_fold, lambda o, t, p: (o["results"].iloc[0:0], o["leaderboard"], t, p)),
        (plot_param_effects, lambda o, t, p: (o["leaderboard"].iloc[0:0], t)),
        (
            plot_fit_time_vs_metric,
            lambda o, t, p: (o["leaderboard"].drop(columns="fit_s_mean"), t),
        ),
        (plot_feature_importance, lambda o, t, p: (o["feature_importance"].iloc[0:0], p)),
        (plot_resource_use, lambda o, t, p: (o["results"].drop(columns="peak_rss_mb"),)),
    ],
)
def test_plots_refuse_empty_or_incomplete_input(plot, make_args, outputs, tuning_params, params):
    with pytest.raises(ReportingError, match="is empty|lacks the column"):
        plot(*make_args(outputs, tuning_params, params))


@pytest.fixture(scope="module")
def test_predictions(
    regression_results, regression_tuning, regression_data, regression_folds, params
):
    board, _ = rank_combinations(regression_results, regression_tuning, params)
    best = select_best_params(board, regression_results, regression_tuning, params)
    return predict_test_parts(best, regression_data, regression_folds, COLUMNS, params)


def test_predicted_vs_actual_shows_every_fold_and_the_diagonal(test_predictions, tmp_path):
    figure = plot_predicted_vs_actual(test_predictions)
    (ax,) = figure.axes
    # One scatter per fold; the line is y = x over the range of both.
    assert [text.get_text() for text in ax.get_legend().get_texts()] == [
        "fold 0",
        "fold 1",
        "fold 2",
        "predicted = actual",
    ]
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == list(line.get_ydata())
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(test_predictions)
    residual = test_predictions["residual"]
    assert f"RMSE {(residual**2).mean() ** 0.5:.4g}" in ax.get_title()
    path = tmp_path / "predicted_vs_actual.png"
    MatplotlibDataset(filepath=str(path), save_args={"format": "png"}).save(figure)
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_residuals_scatter_and_histogram(test_predictions):
    figure = plot_residuals(test_predictions)
    scatter_ax, hist_ax = figure.axes
    offsets = [c.get_offsets() for c in scatter_ax.collections]
    assert sum(len(points) for points in offsets) == len(test_predictions)
    assert sum(patch.get_height() for patch in hist_ax.patches) == len(test_predictions)
    assert f"{len(test_predictions)} test rows" in figure.get_suptitle()


def test_large_predictions_are_sampled_for_the_scatter(test_predictions):
    many = test_predictions.sample(n=6000, replace=True, random_state=1).reset_index(drop=True)
    (ax,) = plot_predicted_vs_actual(many).axes
    assert sum(len(c.get_offsets()) for c in ax.collections) == 5000


@pytest.mark.parametrize("plot", [plot_predicted_vs_actual, plot_residuals])
def test_prediction_plots_refuse_empty_or_incomplete_input(plot, test_predictions):
    with pytest.raises(ReportingError, match="test_predictions is empty"):
        plot(test_predictions.iloc[0:0])
    with pytest.raises(ReportingError, match=r"lacks the column\(s\) \['predicted'\]"):
        plot(test_predictions.drop(columns="predicted"))
