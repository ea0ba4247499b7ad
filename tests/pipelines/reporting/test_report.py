"""The HTML report: leaderboard (parameters first, sortable), per-fold table, metadata, the
plotly figures with plotly.js inlined once, escaping, and offline rendering in a browser."""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import yaml
from plotly.offline import get_plotlyjs

from spark_lgbm_tuning.pipelines.reporting.nodes import (
    rank_combinations,
    refit_best_model,
    select_best_params,
)
from spark_lgbm_tuning.pipelines.reporting.plots import (
    plot_feature_importance,
    plot_fit_time_vs_metric,
    plot_metric_per_fold,
    plot_param_effects,
    plot_resource_use,
)
from spark_lgbm_tuning.pipelines.reporting.prediction_plots import (
    plot_calibration,
    plot_confusion_matrix,
    plot_learning_curves,
    plot_precision_recall,
    plot_predicted_vs_actual,
    plot_residuals,
    plot_roc_curve,
)
from spark_lgbm_tuning.pipelines.reporting.predictions import select_test_predictions
from spark_lgbm_tuning.pipelines.reporting.report import render_report
from spark_lgbm_tuning.pipelines.reporting.results import ReportingError

from .conftest import COLUMNS, RENAMED, XSS, kept_predictions, renamed

#: The classification report's figures, in the order the page shows them.
FIGURES = (
    "roc_curve",
    "precision_recall",
    "confusion_matrix",
    "calibration",
    "learning_curves",
    "feature_importance",
    "metric_per_fold",
    "param_effects",
    "fit_time_vs_metric",
    "resource_use",
)


def search_figures(outputs, tuning_params, params) -> dict:
    results, board = outputs["results"], outputs["leaderboard"]
    return {
        "metric_per_fold": plot_metric_per_fold(results, board, tuning_params, params),
        "param_effects": plot_param_effects(board, tuning_params),
        "fit_time_vs_metric": plot_fit_time_vs_metric(board, tuning_params),
        "feature_importance": plot_feature_importance(outputs["feature_importance"], params),
        "resource_use": plot_resource_use(results),
    }


@pytest.fixture(scope="module")
def arguments(*, outputs, run_info, environment, model_input, model_folds, tuning_params, params):
    """render_report's arguments as the classification pipeline passes them."""
    predictions = outputs["test_predictions"]
    return {
        "leaderboard": outputs["leaderboard"],
        "best_params": outputs["best_params"],
        "tuning_results": outputs["results"],
        "tuning_run_info": run_info,
        "run_environment": environment,
        "model_input": model_input,
        "model_folds": model_folds,
        "refit_model": outputs["refit_model"],
        "tuning_params": tuning_params,
        "columns": COLUMNS,
        "params": params,
        **search_figures(outputs, tuning_params, params),
        "roc_curve": plot_roc_curve(predictions),
        "precision_recall": plot_precision_recall(predictions),
        "confusion_matrix": plot_confusion_matrix(predictions, params),
        "calibration": plot_calibration(predictions, params),
        "learning_curves": plot_learning_curves(outputs["learning_curves"]),
    }


@pytest.fixture(scope="module")
def report(arguments, fold_summary):
    return render_report(**arguments, fold_summary=fold_summary)


def _table(page: str, table_id: str) -> tuple[list[str], list[list[str]]]:
    """(header cells, body rows of cell texts) of the table with id `table_id`."""
    table = re.search(rf'<table class="sortable" id="{table_id}">(.*?)</table>', page, re.S)
    assert table, table_id
    header = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", table.group(1))
    body = table.group(1).split("<tbody>")[1]
    rows = [re.findall(r"<td(?: [^>]*)?>(.*?)</td>", row) for row in body.split("</tr>")[:-1]]
    return header, rows


def test_leaderboard_shows_parameters_first_and_ids_last(report):
    header, rows = _table(report, "leaderboard-table")
    assert header[:5] == ["rank", "num_leaves", "learning_rate", "auc_roc_mean", "auc_roc_std"]
    assert header[-1] == "combo_id"
    assert [row[-1] for row in rows] == ["c_b", "c_a", "c_c"]
    assert rows[0][:4] == ["1", "31", "0.1", "0.86"]
    # Numbers carry their full value for the sort script.
    assert '<td data-value="0.86">0.86</td>' in report
    assert "table.sortable" in report and "addEventListener" in report


def test_per_fold_table_shows_each_folds_metric_or_status(report):
    header, rows = _table(report, "per-fold-table")
    assert header == [
        "rank",
        "num_leaves",
        "learning_rate",
        "auc_roc_mean",
        "auc_roc_std",
        "fold 0",
        "fold 1",
        "fold 2",
        "combo_id",
    ]
    assert rows[0][5:] == ["0.85", "0.87", "failed", "c_b"]
    assert rows[1][5:] == ["0.7", "0.8", "0.9", "c_a"]


def test_metadata_shows_space_code_data_and_when(report, outputs):
    for fact in (
        r"grid: num_leaves</th>\s*<td[^>]*>15, 31",
        r"grid: learning_rate</th>\s*<td[^>]*>0.01, 0.1",
        r"round cap \(num_boost_round\)</th>\s*<td[^>]*>200",
        r"early stopping rounds</th>\s*<td[^>]*>20",
        r"strategy</th>\s*<td[^>]*>grid",
        r"combinations searched</th>\s*<td[^>]*>3<",
        r"Kedro env</th>\s*<td[^>]*>docker",
        r"git commit</th>\s*<td[^>]*>0123456789abcdef0123456789abcdef01234567 \(with uncommitted",
        r"lightgbm</th>\s*<td[^>]*>4.7.0",
        r"started \(UTC\)</th>\s*<td[^>]*>2026-11-25T10:00:00",
        r"ended \(UTC\)</th>\s*<td[^>]*>2026-11-25T10:00:10",
        r"trials ok</th>\s*<td[^>]*>8",
        r"trials failed</th>\s*<td[^>]*>1",
    ):
        assert re.search(fact, report), fact
    # Each fold's data fingerprint, as the results recorded it.
    for fingerprint in outputs["results"]["fold_fingerprint"].unique():
        assert f"<td>{fingerprint}</td>" in report


def test_optional_search_facts_show_when_the_run_recorded_them(arguments):
    adaptive = {
        **arguments["tuning_run_info"],
        "strategy": "optuna",
        "n_combinations": 40,
        "n_pruned": 12,
        "boosting_s_saved_by_pruning": 123.4,
    }
    results = arguments["tuning_results"].copy()
    results.loc[results["combo_id"] == "c_c", "status"] = "pruned"
    page = render_report(**{**arguments, "tuning_run_info": adaptive, "tuning_results": results})
    for fact in (
        r"strategy</th>\s*<td[^>]*>optuna",
        r"combinations searched</th>\s*<td[^>]*>40",
        r"combinations pruned</th>\s*<td[^>]*>12",
        r"boosting seconds saved by pruning</th>\s*<td[^>]*>123.4",
        r"trials pruned</th>\s*<td[^>]*>3",
    ):
        assert re.search(fact, page), fact


def test_trials_pruned_at_a_rung_show_their_rung_and_the_run_info_counts(arguments):
    rungs = {
        **arguments["tuning_run_info"],
        "n_pruned_at_rung": 2,
        "pruned_at_rung": {"100": 2},
        "boosting_rounds_cut_at_rungs": 190,
    }
    results = arguments["tuning_results"].copy()
    pruned = results.index[results["combo_id"] == "c_c"][:2]
    results.loc[pruned, "status"] = "pruned"
    results["pruned_at_round"] = np.nan
    results.loc[pruned, "pruned_at_round"] = 100
    page = render_report(**{**arguments, "tuning_run_info": rungs, "tuning_results": results})
    for fact in (
        r"trials pruned at a rung \(round pruning\)</th>\s*<td[^>]*>2<",
        r"trials pruned per rung round</th>\s*<td[^>]*>\{&#x27;100&#x27;: 2\}",
        r"boosting rounds cut at rungs \(at most\)</th>\s*<td[^>]*>190<",
        r'<th class="text">pruned_at_round</th>',
        r'<td class="text">pruned</td><td class="text">100</td>',
    ):
        assert re.search(fact, page), fact
    # Without a trial pruned at a rung, the column is left out.
    assert "pruned_at_round</th>" not in render_report(**arguments)


def test_report_embeds_each_plotly_figure_and_plotly_js_once(report):
    assert re.findall(r'<figure id="(\w+)"><div', report) == list(FIGURES)
    for name in FIGURES:
        assert f'id="{name}_figure"' in report and "Plotly.newPlot" in report
    assert report.count(get_plotlyjs()) == 1
    assert len(re.findall(r"<script[^>]*>", report)) == 2 + len(FIGURES)
    # Self-contained: no script, stylesheet or image is fetched from anywhere (plotly.js itself
    # holds links, e.g. to plotly.com in its logo, as text).
    page = report.replace(get_plotlyjs(), "")
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=", page)
    assert not re.search(r'(src|href)="https?:', page)


def test_report_shows_best_params_and_run_facts(report, outputs):
    best_yaml = yaml.safe_dump(outputs["best_params"], sort_keys=False)
    assert html.escape(best_yaml) in report
    assert "num_leaves: 31" in report and "num_boost_round: 46" in report
    # 15 s of fitting in 10 s on 2 cores.
    assert re.search(r"Σ fit time ÷ \(wall × task slots\)</th>\s*<td[^>]*>0.75</td>", report)
    assert "local[2]" in report
    assert "360" in report  # rows of the refit: every row of the three folds
    assert "2024-01-01" in report  # data time range
    assert "Primary metric: auc_roc (tuning.primary_metric; higher is better)" in report


CHROMIUM = Path("/usr/bin/chromium")


def _chromium(page: Path, *arguments: str, profile: Path) -> str:
    """Headless Chromium on `page` (no network needed), its stdout."""
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",  # tests may run as root
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            # Let plotly finish drawing before the page is captured.
            "--virtual-time-budget=15000",
            *arguments,
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    ).stdout


@pytest.mark.slow
@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs headless Chromium at /usr/bin/chromium (Debian: apt-get install -y chromium)",
)
def test_report_renders_offline_in_headless_chromium(report, tmp_path):
    page = tmp_path / "tuning_report.html"
    page.write_text(report, encoding="utf-8")
    # The DOM after the scripts ran: plotly.js (inlined) drew every figure as SVG.
    dom = _chromium(page, "--dump-dom", profile=tmp_path / "dom")
    drawn = re.findall(r'<div id="(\w+)_figure" class="plotly-graph-div js-plotly-plot"', dom)
    assert drawn == list(FIGURES)
    assert dom.count('class="main-svg"') >= len(FIGURES)
    screenshot = tmp_path / "screenshot.png"
    _chromium(
        page, "--window-size=1200,9000", f"--screenshot={screenshot}", profile=tmp_path / "shot"
    )
    pixels = (matplotlib.image.imread(screenshot)[..., :3] * 255).astype(int)

    def count(colour: tuple[int, int, int]) -> int:
        return int((np.abs(pixels - np.array(colour)).max(axis=-1) <= 12).sum())

    # Only the feature-importance figure paints steelblue gain bars and darkorange split bars:
    # if they show, plotly.js ran from the file itself, with no network.
    assert count((70, 130, 180)) > 1000
    assert count((255, 140, 0)) > 1000


def test_report_escapes_error_text(report):
    assert XSS not in report
    assert html.escape(XSS) in report
    assert "1 of 9 trials did not finish ok" in report


def test_report_refuses_broken_inputs(arguments):
    with pytest.raises(ReportingError, match="not a LightGBM text model"):
        render_report(**{**arguments, "refit_model": ""})
    with pytest.raises(ReportingError, match=r"no place for the figure\(s\) \['surprise'\]"):
        render_report(**arguments, surprise=arguments["roc_curve"])
    with pytest.raises(ReportingError, match=r"\['roc_curve'\] are not plotly figures"):
        render_report(**{**arguments, "roc_curve": "<div>"})
    with pytest.raises(ReportingError, match=r"tuning_results lacks the column\(s\)"):
        results = arguments["tuning_results"].drop(columns="fold_fingerprint")
        render_report(**{**arguments, "tuning_results": results})


def test_report_shows_the_efficiency_the_tuning_recorded(arguments):
    """One formula (the tuning's run_info): the report shows its value and computes none."""
    recorded = {**arguments["tuning_run_info"], "efficiency": 0.6123}  # not 15 / (10 x 2)
    page = render_report(**{**arguments, "tuning_run_info": recorded})
    assert re.search(r"Σ fit time ÷ \(wall × task slots\)</th>\s*<td[^>]*>0.6123</td>", page)


def test_report_reads_the_columns_setting(arguments):
    """Renamed columns: the data summary finds the time, target and features by params:columns."""
    data = renamed(arguments["model_input"])
    page = render_report(**{**arguments, "model_input": data, "columns": RENAMED})
    assert re.search(r"features</th>\s*<td[^>]*>5</td>", page)
    assert "2024-01-01 00:00:00 → 2025-02-03 00:00:00" in page  # the `ts` column's range
    assert "positive ratio" in page
    # No fold_summary: the fold sizes come from the fold table.
    assert re.search(r"<th>n_test</th>", page)
    with pytest.raises(ValueError, match="no target column 'target'"):
        render_report(**{**arguments, "model_input": data, "columns": COLUMNS})


def test_env_falls_back_to_the_run_info_and_says_when_unknown(arguments, environment):
    unknown = {**environment, "kedro_env": None, "git_commit": None}
    page = render_report(**{**arguments, "run_environment": unknown})
    assert re.search(r"Kedro env</th>\s*<td[^>]*>not recorded", page)
    assert re.search(r"git commit</th>\s*<td[^>]*>not a git work tree", page)
    recorded = {**arguments["tuning_run_info"], "env": "cluster"}
    page = render_report(**{**arguments, "run_environment": unknown, "tuning_run_info": recorded})
    assert re.search(r"Kedro env</th>\s*<td[^>]*>cluster", page)


def test_regression_report_shows_its_out_of_fold_figures(
    *, regression_results, regression_tuning, regression_data, regression_folds, arguments, params
):
    board, _ = rank_combinations(regression_results, regression_tuning, params)
    best = select_best_params(board, regression_results, regression_tuning, params)
    model, importance = refit_best_model(best, regression_data, regression_folds, COLUMNS, params)
    kept, kept_curves = kept_predictions(
        regression_results, regression_data, regression_folds, regression_tuning
    )
    predictions, curves = select_test_predictions(best, kept, kept_curves, regression_tuning)
    outputs = {
        "results": regression_results,
        "leaderboard": board,
        "feature_importance": importance,
    }
    page = render_report(
        leaderboard=board,
        best_params=best,
        tuning_results=regression_results,
        tuning_run_info=arguments["tuning_run_info"],
        run_environment=arguments["run_environment"],
        model_input=regression_data,
        model_folds=regression_folds,
        refit_model=model,
        tuning_params=regression_tuning,
        columns=COLUMNS,
        params=params,
        **search_figures(outputs, regression_tuning, params),
        predicted_vs_actual=plot_predicted_vs_actual(predictions),
        residuals=plot_residuals(predictions),
        learning_curves=plot_learning_curves(curves),
    )
    names = re.findall(r'<figure id="(\w+)"><div', page)
    assert names == ["predicted_vs_actual", "residuals", "learning_curves", *FIGURES[5:]]
    assert "Primary metric: rmse (tuning.primary_metric; lower is better)" in page
    assert "target mean / std" in page and "positive ratio" not in page
    assert "time range" not in page  # the regression data has no time column
    _, rows = _table(page, "leaderboard-table")
    assert [row[-1] for row in rows] == ["r_15", "r_7"]
