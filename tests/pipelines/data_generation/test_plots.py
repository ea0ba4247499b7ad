"""The sample-features figure: built headless from generated data, refusing tables it cannot plot.

The fold figures are preparation's (tests/pipelines/preparation/test_plots.py).
"""

from __future__ import annotations

import io

import pytest
from matplotlib.figure import Figure

from spark_lgbm_tuning.pipelines.data_generation.nodes import generate_timeseries
from spark_lgbm_tuning.pipelines.data_generation.params import DataGenerationParams
from spark_lgbm_tuning.pipelines.data_generation.plots import plot_sample_features

from .conftest import COLUMNS, RENAMED, merged


@pytest.fixture(scope="module")
def small(base_raw_params):
    params = DataGenerationParams.model_validate(
        merged(base_raw_params, {"n_samples": 3_000, "n_features": 8})
    )
    return params, generate_timeseries(params, COLUMNS)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=60)
    return buffer.getvalue()


def test_sample_features_has_one_panel_per_time_effect(small):
    params, data = small
    figure = plot_sample_features(data, params, COLUMNS)
    titles = [ax.get_title() for ax in figure.axes]
    assert len(titles) == 4
    for title, word in zip(titles, ("trend", "weekly", "monthly", "AR(1)"), strict=True):
        assert word in title
    assert _png(figure).startswith(b"\x89PNG")


def test_sample_features_needs_the_effect_columns(small):
    params, data = small
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['feature_3'\]"):
        plot_sample_features(data.drop(columns="feature_3"), params, COLUMNS)


def test_sample_features_reads_the_columns_setting(small):
    params, data = small
    renamed = data.rename(columns=lambda c: {"date": "ts", "target": "label"}.get(c, "x" + c[7:]))
    titles = [ax.get_title() for ax in plot_sample_features(renamed, params, RENAMED).axes]
    assert [title.split(":")[0] for title in titles] == ["x_0", "x_1", "x_2", "x_3"]
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['date', 'feature_0'"):
        plot_sample_features(renamed, params, COLUMNS)
