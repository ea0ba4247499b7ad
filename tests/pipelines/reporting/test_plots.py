"""The search figures: plotly figures the catalog saves as JSON (and loads back unchanged), each
refusing input it cannot plot."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest
from kedro_datasets.plotly import JSONDataset

from spark_lgbm_tuning.pipelines.reporting.params import ReportingParams
from spark_lgbm_tuning.pipelines.reporting.plots import (
    plot_feature_importance,
    plot_fit_time_vs_metric,
    plot_metric_per_fold,
    plot_param_effects,
    plot_resource_use,
)
from spark_lgbm_tuning.pipelines.reporting.results import ReportingError


@pytest.fixture(scope="module")
def figures(outputs, tuning_params, params) -> dict[str, go.Figure]:
    results, board = outputs["results"], outputs["leaderboard"]
    return {
        "metric_per_fold": plot_metric_per_fold(results, board, tuning_params, params),
        "param_effects": plot_param_effects(board, tuning_params),
        "fit_time_vs_metric": plot_fit_time_vs_metric(board, tuning_params),
        "feature_importance": plot_feature_importance(outputs["feature_importance"], params),
        "resource_use": plot_resource_use(results),
    }


def test_each_figure_round_trips_through_the_catalog_dataset(figures, tmp_path):
    for name, figure in figures.items():
        assert isinstance(figure, go.Figure), name
        dataset = JSONDataset(filepath=str(tmp_path / f"{name}.json"))
        dataset.save(figure)
        assert dataset.load() == figure, name


def test_the_figures_show_what_their_titles_say(figures):
    per_fold = figures["metric_per_fold"]
    assert len(per_fold.data) == 3  # three combinations, fewer than top_n_plot
    assert per_fold.data[0].name.startswith("#1 c_b")
    # The failed fold 2 of c_b is a gap, not a value.
    assert per_fold.data[0].y[2] != per_fold.data[0].y[2]  # NaN
    assert per_fold.layout.yaxis.title.text == "auc_roc"
    assert figures["fit_time_vs_metric"].layout.yaxis.title.text == "auc_roc_mean"
    assert figures["fit_time_vs_metric"].data[1].name == "best: c_b"
    # Two tuned parameters -> two panels, named after them.
    titles = [annotation.text for annotation in figures["param_effects"].layout.annotations]
    assert titles == ["num_leaves", "learning_rate"]
    # Executors "0" and "1" each get a legend entry (shared by both panels).
    shown = [trace.name for trace in figures["resource_use"].data if trace.showlegend]
    assert shown == ["executor 0", "executor 1"]


def test_feature_importance_labels_have_room(outputs, figures):
    """Every feature gets its own tick and row height; the label margin grows to fit them."""
    figure = figures["feature_importance"]
    gain, splits = figure.data
    assert list(gain.y) == list(outputs["feature_importance"]["feature"])[::-1]
    assert (figure.layout.yaxis.dtick, figure.layout.yaxis.automargin) == (1, True)
    many = outputs["feature_importance"].iloc[[0] * 60].reset_index(drop=True)
    many["feature"] = [f"a_rather_long_feature_name_{i}" for i in range(60)]
    tall = plot_feature_importance(many, ReportingParams(top_n_features=60))
    assert tall.layout.height >= 60 * 20 > figure.layout.height


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
