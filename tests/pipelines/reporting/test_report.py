"""Plots, the HTML report, and the reporting pipeline run on an in-memory catalog."""

from __future__ import annotations

import base64
import html
import logging
import re
import subprocess
from pathlib import Path

import lightgbm as lgb
import matplotlib.image
import numpy as np
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro_datasets.matplotlib import MatplotlibDataset
from kedro_datasets.pandas import ParquetDataset
from kedro_datasets.text import TextDataset
from kedro_datasets.yaml import YAMLDataset
from matplotlib.figure import Figure

from spark_lgbm_tuning.pipelines.reporting import create_pipeline
from spark_lgbm_tuning.pipelines.reporting.nodes import (
    ReportingError,
    plot_feature_importance,
    plot_fit_time_vs_metric,
    plot_metric_per_fold,
    plot_param_effects,
    plot_resource_use,
    rank_combinations,
    refit_best_model,
    render_report,
    select_best_params,
)

PLOTS = (
    "metric_per_fold",
    "param_effects",
    "fit_time_vs_metric",
    "feature_importance",
    "resource_use",
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
XSS = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def outputs(results, tuning_params, timeseries_data, timeseries_folds, params) -> dict:
    """Every reporting output the report needs, from the hand-made inputs."""
    # A failed trial whose error text is hostile HTML: the report must show it, escaped.
    results = results.copy()
    results.loc[results["status"] == "failed", "error"] = f"Traceback: boom {XSS}"
    board, _ = rank_combinations(results, tuning_params, params)
    best = select_best_params(board, results, tuning_params, params)
    model, importance = refit_best_model(best, timeseries_data, timeseries_folds, params)
    return {
        "results": results,
        "leaderboard": board,
        "best_params": best,
        "refit_model": model,
        "feature_importance": importance,
    }


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
def report(
    *, outputs, run_info, timeseries_data, timeseries_folds, fold_summary, tuning_params, params
):
    return render_report(
        leaderboard=outputs["leaderboard"],
        best_params=outputs["best_params"],
        tuning_results=outputs["results"],
        tuning_run_info=run_info,
        timeseries_data=timeseries_data,
        timeseries_folds=timeseries_folds,
        fold_summary=fold_summary,
        feature_importance=outputs["feature_importance"],
        refit_model=outputs["refit_model"],
        tuning_params=tuning_params,
        params=params,
    )


def test_report_embeds_every_plot_as_a_png(report):
    images = re.findall(
        r'<figure id="(\w+)_plot"><img alt="\w+" src="data:image/png;base64,([^"]+)"', report
    )
    assert [name for name, _ in images] == list(PLOTS)
    for _, encoded in images:
        assert base64.b64decode(encoded, validate=True).startswith(PNG_MAGIC)
    # Self-contained: nothing is fetched from anywhere when the file is opened offline.
    assert not re.search(r'(src|href)="(?!data:)', report)


def test_report_shows_best_params_leaderboard_and_run_facts(report, outputs):
    best_yaml = yaml.safe_dump(outputs["best_params"], sort_keys=False)
    assert html.escape(best_yaml) in report
    assert "num_leaves: 31" in report and "num_boost_round: 46" in report
    leaderboard_rows = re.findall(r"<td>(c_[abc])</td>", report)
    assert leaderboard_rows == ["c_b", "c_a", "c_c"]
    # 15 s of fitting in 10 s on 2 cores.
    assert re.search(r"Σ fit time ÷ \(wall × cores\)</th>\s*<td[^>]*>0.75</td>", report)
    assert "local[2]" in report
    assert "360" in report  # rows of the refit: every row of the three folds
    assert "2024-01-01" in report  # data time range
    assert "Primary metric: auc_roc (tuning.primary_metric; higher is better)" in report


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.slow
@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs headless Chromium at /usr/bin/chromium (Debian: apt-get install -y chromium)",
)
def test_report_renders_offline_in_headless_chromium(report, tmp_path):
    page = tmp_path / "tuning_report.html"
    page.write_text(report, encoding="utf-8")
    screenshot = tmp_path / "screenshot.png"
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",  # tests may run as root
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,8000",
            f"--screenshot={screenshot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pixels = (matplotlib.image.imread(screenshot)[..., :3] * 255).astype(int)

    def count(colour: tuple[int, int, int]) -> int:
        return int((np.abs(pixels - np.array(colour)).max(axis=-1) <= 12).sum())

    # Only the embedded feature-importance PNG paints steelblue gain bars and darkorange split
    # bars: if they show, the base64 images decoded and displayed with no network.
    assert count((70, 130, 180)) > 1000
    assert count((255, 140, 0)) > 1000


def test_report_escapes_error_text(report):
    assert XSS not in report
    assert html.escape(XSS) in report
    assert "1 of 9 trials did not finish ok" in report


def test_report_refuses_a_broken_model(
    *, outputs, run_info, timeseries_data, timeseries_folds, fold_summary, tuning_params, params
):
    with pytest.raises(ReportingError, match="not a LightGBM text model"):
        render_report(
            leaderboard=outputs["leaderboard"],
            best_params=outputs["best_params"],
            tuning_results=outputs["results"],
            tuning_run_info=run_info,
            timeseries_data=timeseries_data,
            timeseries_folds=timeseries_folds,
            fold_summary=fold_summary,
            feature_importance=outputs["feature_importance"],
            refit_model="",
            tuning_params=tuning_params,
            params=params,
        )


def test_pipeline_runs_on_an_in_memory_catalog(
    *,
    results,
    run_info,
    timeseries_data,
    timeseries_folds,
    fold_summary,
    tuning_params,
    params,
    tmp_path,
    caplog,
):
    inputs = {
        "tuning_results@pandas": results,
        "tuning_run_info": run_info,
        "timeseries_data@pandas": timeseries_data,
        "timeseries_folds@pandas": timeseries_folds,
        "fold_summary": fold_summary,
        "params:tuning": tuning_params,
        "params:reporting": params,
    }
    pipeline = create_pipeline()
    assert pipeline.inputs() == set(inputs)
    datasets = {name: MemoryDataset(data) for name, data in inputs.items()}
    # The intermediate outputs go through their catalog formats, so the next node reads what a
    # real run reads (the runner frees in-memory intermediates once consumed).
    datasets["leaderboard"] = ParquetDataset(filepath=str(tmp_path / "leaderboard.parquet"))
    datasets["best_params"] = YAMLDataset(filepath=str(tmp_path / "best_params.yml"))
    datasets["refit_model"] = TextDataset(filepath=str(tmp_path / "refit_model.txt"))
    catalog = DataCatalog(datasets)
    with caplog.at_level(logging.INFO):
        SequentialRunner().run(pipeline, catalog)

    page = catalog.load("tuning_report")
    assert page.count("data:image/png;base64,") == len(PLOTS)
    assert catalog.load("leaderboard")["combo_id"].tolist() == ["c_b", "c_a", "c_c"]
    assert catalog.load("leaderboard_csv")["combo_id"].tolist() == ["c_b", "c_a", "c_c"]
    assert catalog.load("best_params")["selection"]["combo_id"] == "c_b"
    assert lgb.Booster(model_file=str(tmp_path / "refit_model.txt")).num_trees() == 46
    for name in PLOTS:
        assert isinstance(catalog.load(f"{name}_plot"), Figure)
    # The last node says which catalog dataset holds the report.
    assert any("'tuning_report'" in record.getMessage() for record in caplog.records)
