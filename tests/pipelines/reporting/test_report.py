"""The HTML report: every plot embedded, the facts it shows, escaping, offline rendering."""

from __future__ import annotations

import base64
import html
import re
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import yaml

from spark_lgbm_tuning.pipelines.reporting.nodes import (
    predict_test_parts,
    rank_combinations,
    refit_best_model,
    select_best_params,
)
from spark_lgbm_tuning.pipelines.reporting.report import render_report
from spark_lgbm_tuning.pipelines.reporting.results import ReportingError

from .conftest import COLUMNS, RENAMED, XSS, renamed

PLOTS = (
    "metric_per_fold",
    "param_effects",
    "fit_time_vs_metric",
    "feature_importance",
    "resource_use",
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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
        columns=COLUMNS,
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
            columns=COLUMNS,
            params=params,
        )


def test_report_shows_the_efficiency_the_tuning_recorded(
    *, outputs, run_info, timeseries_data, timeseries_folds, fold_summary, tuning_params, params
):
    """One formula (the tuning's run_info): the report shows its value and computes none."""
    recorded = {**run_info, "efficiency": 0.6123}  # not 15 / (10 x 2)
    page = render_report(
        leaderboard=outputs["leaderboard"],
        best_params=outputs["best_params"],
        tuning_results=outputs["results"],
        tuning_run_info=recorded,
        timeseries_data=timeseries_data,
        timeseries_folds=timeseries_folds,
        fold_summary=fold_summary,
        feature_importance=outputs["feature_importance"],
        refit_model=outputs["refit_model"],
        tuning_params=tuning_params,
        columns=COLUMNS,
        params=params,
    )
    assert re.search(r"Σ fit time ÷ \(wall × cores\)</th>\s*<td[^>]*>0.6123</td>", page)


def test_report_reads_the_columns_setting(
    *, outputs, run_info, timeseries_data, timeseries_folds, tuning_params, params
):
    """Renamed columns: the data summary finds the time, target and features by params:columns."""
    arguments = {
        "leaderboard": outputs["leaderboard"],
        "best_params": outputs["best_params"],
        "tuning_results": outputs["results"],
        "tuning_run_info": run_info,
        "timeseries_folds": timeseries_folds,
        "feature_importance": outputs["feature_importance"],
        "refit_model": outputs["refit_model"],
        "tuning_params": tuning_params,
        "params": params,
    }
    page = render_report(**arguments, timeseries_data=renamed(timeseries_data), columns=RENAMED)
    assert re.search(r"features</th>\s*<td[^>]*>5</td>", page)
    assert "2024-01-01 00:00:00 → 2025-02-03 00:00:00" in page  # the `ts` column's range
    assert "positive ratio" in page
    # No fold_summary: the fold sizes come from the fold table.
    assert re.search(r"<th>n_test</th>", page)
    with pytest.raises(ValueError, match="no target column 'target'"):
        render_report(**arguments, timeseries_data=renamed(timeseries_data), columns=COLUMNS)


def test_regression_report_adds_the_test_part_plots(
    *, regression_results, regression_tuning, regression_data, regression_folds, run_info, params
):
    board, _ = rank_combinations(regression_results, regression_tuning, params)
    best = select_best_params(board, regression_results, regression_tuning, params)
    model, importance = refit_best_model(best, regression_data, regression_folds, COLUMNS, params)
    page = render_report(
        leaderboard=board,
        best_params=best,
        tuning_results=regression_results,
        tuning_run_info=run_info,
        timeseries_data=regression_data,
        timeseries_folds=regression_folds,
        feature_importance=importance,
        refit_model=model,
        tuning_params=regression_tuning,
        columns=COLUMNS,
        params=params,
        test_predictions=predict_test_parts(
            best, regression_data, regression_folds, COLUMNS, params
        ),
    )
    names = re.findall(r'<figure id="(\w+)_plot">', page)
    assert names == [*PLOTS, "predicted_vs_actual", "residuals"]
    assert "Primary metric: rmse (tuning.primary_metric; lower is better)" in page
    assert "target mean / std" in page and "positive ratio" not in page
    assert "time range" not in page  # the regression data has no time column
    assert re.findall(r"<td>(r_\d+)</td>", page) == ["r_15", "r_7"]
