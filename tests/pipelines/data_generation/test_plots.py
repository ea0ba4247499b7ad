"""The three figures: built headless from real data, refusing tables they cannot plot."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from matplotlib.figure import Figure

from spark_lgbm_tuning.pipelines.data_generation.nodes import (
    generate_timeseries,
    make_timeseries_folds,
    summarise_folds,
)
from spark_lgbm_tuning.pipelines.data_generation.params import DataGenerationParams
from spark_lgbm_tuning.pipelines.data_generation.plots import (
    plot_fold_class_balance,
    plot_folds_timeline,
    plot_sample_features,
)

from .conftest import COLUMNS, RENAMED, merged


@pytest.fixture(scope="module")
def small(base_raw_params):
    params = DataGenerationParams.model_validate(
        merged(base_raw_params, {"n_samples": 3_000, "n_features": 8})
    )
    data = generate_timeseries(params, COLUMNS)
    summary = summarise_folds(data, make_timeseries_folds(data, params, COLUMNS), COLUMNS)
    return params, data, summary


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=60)
    return buffer.getvalue()


def test_sample_features_has_one_panel_per_time_effect(small):
    params, data, _ = small
    figure = plot_sample_features(data, params, COLUMNS)
    titles = [ax.get_title() for ax in figure.axes]
    assert len(titles) == 4
    for title, word in zip(titles, ("trend", "weekly", "monthly", "AR(1)"), strict=True):
        assert word in title
    assert _png(figure).startswith(b"\x89PNG")


def test_sample_features_needs_the_effect_columns(small):
    params, data, _ = small
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['feature_3'\]"):
        plot_sample_features(data.drop(columns="feature_3"), params, COLUMNS)


def test_sample_features_reads_the_columns_setting(small):
    params, data, _ = small
    renamed = data.rename(columns=lambda c: {"date": "ts", "target": "label"}.get(c, "x" + c[7:]))
    titles = [ax.get_title() for ax in plot_sample_features(renamed, params, RENAMED).axes]
    assert [title.split(":")[0] for title in titles] == ["x_0", "x_1", "x_2", "x_3"]
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['date', 'feature_0'"):
        plot_sample_features(renamed, params, COLUMNS)


def test_folds_timeline_draws_each_window(small):
    _, _, summary = small
    # Read back from the CSV the catalog writes: the dates arrive as strings.
    from_csv = pd.read_csv(io.StringIO(summary.to_csv(index=False)))
    figure = plot_folds_timeline(from_csv)
    (ax,) = figure.axes
    assert len(ax.patches) == 2 * len(summary)
    assert [label.get_text() for label in ax.get_yticklabels()] == [f"fold {k}" for k in range(4)]
    assert _png(figure).startswith(b"\x89PNG")


def test_fold_class_balance_shows_train_and_test_ratios(small):
    _, _, summary = small
    figure = plot_fold_class_balance(summary)
    (ax,) = figure.axes
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    expected = sorted(
        round(v, 6) for v in [*summary["train_positive_ratio"], *summary["test_positive_ratio"]]
    )
    assert heights == expected
    assert _png(figure).startswith(b"\x89PNG")


@pytest.mark.parametrize("plot", [plot_folds_timeline, plot_fold_class_balance])
def test_fold_plots_refuse_empty_or_incomplete_summaries(small, plot):
    _, _, summary = small
    with pytest.raises(ValueError, match="no folds to plot"):
        plot(summary.iloc[:0])
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['test_end'\]"):
        plot(summary.drop(columns="test_end"))
