"""The fold figures for every kind, from real summaries (also read back from their CSV)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from spark_lgbm_tuning.pipelines.preparation.folds import FoldParams, cut_folds, summarise_folds
from spark_lgbm_tuning.pipelines.preparation.plots import (
    plot_fold_class_balance,
    plot_folds_timeline,
)
from spark_lgbm_tuning.vocabulary.columns import ColumnParams

N_ROWS = 100
COLUMNS = ColumnParams(group="store")
NO_TIME = ColumnParams(time=None, group="store")
KINDS = ["expanding", "sliding", "kfold", "stratified", "group"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=N_ROWS, freq="h", unit="us"),
            "store": rng.integers(0, 8, size=N_ROWS),
            "target": (rng.random(N_ROWS) < 0.3).astype(np.int32),
        }
    )


def _summary(data: pd.DataFrame, kind: str, columns: ColumnParams = COLUMNS) -> pd.DataFrame:
    params = FoldParams(kind=kind, n_splits=3, gap=2 if kind in ("expanding", "sliding") else 0)
    summary = summarise_folds(data, cut_folds(data, params, columns), columns)
    # As the catalog's CSVDataset hands it to the plot nodes: times become strings.
    return pd.read_csv(io.StringIO(summary.to_csv(index=False)))


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=50)
    return buffer.getvalue()


def _bars(figure: Figure) -> list[tuple[float, float]]:
    """(left, width) of every horizontal bar, train bars first, in fold order."""
    (ax,) = figure.axes
    return [(patch.get_x(), patch.get_width()) for patch in ax.patches]


@pytest.mark.parametrize("kind", ["expanding", "sliding"])
def test_timeline_draws_time_windows_on_the_time_axis(data, kind):
    summary = _summary(data, kind)
    figure = plot_folds_timeline(summary)
    (ax,) = figure.axes

    assert ax.get_xlabel() == "time" and "windows" in ax.get_title()
    assert [label.get_text() for label in ax.get_yticklabels()] == ["fold 0", "fold 1", "fold 2"]
    bars = _bars(figure)
    assert len(bars) == 6
    # Matplotlib's date axis counts days: test windows of 25 hourly rows span 24 hours.
    assert [round(width * 24, 6) for _, width in bars[3:]] == [24, 24, 24]
    train_end = [left + width for left, width in bars[:3]]
    test_start = [left for left, _ in bars[3:]]
    # The gap of two rows: three hours from the last training row to the first test row.
    assert [round((b - a) * 24, 6) for a, b in zip(train_end, test_start, strict=True)] == [3] * 3
    assert _png(figure).startswith(b"\x89PNG")


def test_timeline_draws_row_windows_without_a_time_column(data):
    rows = data.drop(columns="date")
    figure = plot_folds_timeline(_summary(rows, "sliding", NO_TIME))
    (ax,) = figure.axes

    assert ax.get_xlabel().startswith("row")
    # 100 rows, 3 folds, gap 2: tests of 25 rows from row 25; sliding trains on 23 rows.
    assert _bars(figure) == [(0, 23), (25, 23), (50, 23), (25, 25), (50, 25), (75, 25)]


@pytest.mark.parametrize("kind", ["kfold", "stratified", "group"])
def test_timeline_draws_k_fold_rows_per_fold(data, kind):
    summary = _summary(data, kind)
    figure = plot_folds_timeline(summary)
    (ax,) = figure.axes

    assert ax.get_xlabel() == "rows" and "rows per fold" in ax.get_title()
    bars = _bars(figure)
    train, test = bars[:3], bars[3:]
    # Stacked: each fold's test bar starts where its train bar ends, and together they are
    # every row.
    for (train_left, train_width), (test_left, test_width) in zip(train, test, strict=True):
        assert train_left == 0 and test_left == train_width
        assert train_width + test_width == N_ROWS
    tested = summary.loc[summary["split"] == "test", "n_rows"].tolist()
    assert [width for _, width in test] == tested
    assert _png(figure).startswith(b"\x89PNG")


@pytest.mark.parametrize("kind", KINDS)
def test_class_balance_shows_each_parts_positive_ratio(data, kind):
    summary = _summary(data, kind)
    figure = plot_fold_class_balance(summary)
    (ax,) = figure.axes

    assert ax.get_ylabel() == "positive-class ratio"
    heights = [round(patch.get_height(), 9) for patch in ax.patches]
    ratios = [
        round(
            summary.loc[
                (summary["fold_id"] == k) & (summary["split"] == split), "positive_ratio"
            ].item(),
            9,
        )
        for split in ("train", "test")
        for k in range(3)
    ]
    assert heights == ratios
    assert _png(figure).startswith(b"\x89PNG")


def test_class_balance_shows_a_regression_targets_mean(data):
    numeric = data.assign(target=np.linspace(0.0, 1.5, N_ROWS))
    summary = _summary(numeric, "kfold")
    figure = plot_fold_class_balance(summary)
    (ax,) = figure.axes

    assert ax.get_ylabel() == "target mean" and ax.get_title() == "Target mean per fold"
    assert sorted(round(p.get_height(), 9) for p in ax.patches) == sorted(
        round(value, 9) for value in summary["target_mean"]
    )


def test_plots_take_a_numeric_time_column(data):
    steps = data.assign(date=np.arange(N_ROWS) * 10)
    figure = plot_folds_timeline(_summary(steps, "expanding"))
    # Steps 10 apart: a test window of 25 rows spans 240 steps.
    assert [width for _, width in _bars(figure)[3:]] == [240, 240, 240]


@pytest.mark.parametrize("plot", [plot_folds_timeline, plot_fold_class_balance])
def test_fold_plots_refuse_empty_or_incomplete_summaries(data, plot):
    summary = _summary(data, "kfold")
    with pytest.raises(ValueError, match="no folds to plot"):
        plot(summary.iloc[:0])
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['runs'\]"):
        plot(summary.drop(columns="runs"))
    with pytest.raises(ValueError, match="lacks the test part of some fold"):
        plot(summary[~((summary["fold_id"] == 1) & (summary["split"] == "test"))])
