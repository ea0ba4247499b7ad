"""The HTML report: one self-contained page with run facts, data and folds, leaderboard, best
params, refit model, every plot as an embedded PNG, and failed trials with their errors.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import math
from collections.abc import Mapping
from string import Template
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure

from spark_lgbm_tuning.columns import ColumnParams, feature_columns
from spark_lgbm_tuning.pipelines.tuning.folds import FOLD_COLUMNS, covered_rows
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams

from .params import ReportingParams
from .plots import (
    plot_feature_importance,
    plot_fit_time_vs_metric,
    plot_metric_per_fold,
    plot_param_effects,
    plot_predicted_vs_actual,
    plot_residuals,
    plot_resource_use,
)
from .results import OK, ReportingError, direction, plain, require_rows, truncate

logger = logging.getLogger(__name__)

#: The catalog dataset that holds the report (a namespaced pipeline prefixes it, e.g.
#: `regression.tuning_report`); the pipeline names its output with it.
REPORT_DATASET = "tuning_report"

_REPORT = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>$title</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
.subtitle { color: #666; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th { background: #f3f3f3; }
td.text, th.text { text-align: left; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
td pre { margin: 0; padding: 0.3em; white-space: pre-wrap; max-width: 60em; }
.wide { overflow-x: auto; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
</style>
</head>
<body>
<h1>$title</h1>
<p class="subtitle">$subtitle</p>

<h2>Run facts</h2>
$run_facts

<h2>Data and folds</h2>
$data_summary
$folds

<h2>Leaderboard (top $top_n of $n_combinations)</h2>
<p>$ranking_rule</p>
$leaderboard

<h2>Best parameters</h2>
<p>The <code>tuning:</code> block holds the winning combination as fixed parameters and the
learned number of rounds: paste it into <code>conf/base/parameters_tuning.yml</code> and drop the
names it fixes from <code>tuning.grid</code>.</p>
<pre>$best_params</pre>

<h2>Refit model</h2>
$refit

<h2>Plots</h2>
$figures

<h2>Failed trials</h2>
$failed
</body>
</html>
"""
)

_FIGURE_CAPTIONS = {
    "metric_per_fold": "Primary metric on each fold for the top combinations.",
    "param_effects": "Each tuned parameter against the primary metric.",
    "fit_time_vs_metric": "Mean fit time against the primary metric.",
    "feature_importance": "Feature importance of the refit model.",
    "resource_use": "Per-trial peak memory and CPU utilisation by executor.",
    "predicted_vs_actual": "Test parts: each fold's model (best combination, fit on the fold's "
    "train part) against the actual target.",
    "residuals": "Test parts: residuals against the prediction, and their distribution.",
}


def _facts_table(facts: list[tuple[str, Any]]) -> str:
    rows = "\n".join(
        f'<tr><th class="text">{html.escape(str(name))}</th>'
        f'<td class="text">{html.escape(_format_value(value))}</td></tr>'
        for name, value in facts
    )
    return f"<table>\n{rows}\n</table>"


def _format_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float | np.floating):
        return f"{value:.5g}"
    return str(value)


def _frame_table(frame: pd.DataFrame) -> str:
    """A DataFrame as an HTML table (cells escaped) that scrolls sideways when it is wide."""
    table = frame.to_html(
        index=False, escape=True, border=0, na_rep="—", float_format=lambda value: f"{value:.5g}"
    )
    return f'<div class="wide">\n{table}\n</div>'


def _figure_png_base64(fig: Figure, dpi: int) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _run_facts(run_info: Mapping[str, Any]) -> str:
    return _facts_table(
        [
            ("Spark master", run_info.get("spark_master")),
            ("application id", run_info.get("app_id")),
            ("executors", run_info.get("n_executors")),
            ("total cores", run_info.get("total_cores")),
            ("cores per task (spark.task.cpus)", run_info.get("task_cpus")),
            ("started / ended", f"{run_info.get('started_at')} / {run_info.get('ended_at')}"),
            ("wall time (s)", run_info.get("wall_s")),
            (
                "trials: total / ok / failed",
                "{} / {} / {}".format(
                    run_info.get("n_trials"), run_info.get("n_ok"), run_info.get("n_failed")
                ),
            ),
            ("Σ fit time (s)", run_info.get("sum_fit_s")),
            # The tuning computes it (run_trials' run_info): one formula, shown here as recorded.
            ("Σ fit time ÷ (wall × cores)", run_info.get("efficiency")),
        ]
    )


def _data_summary(data: pd.DataFrame, rows: np.ndarray, columns: ColumnParams) -> str:
    features = feature_columns(data, columns)  # fails naming a missing target or features
    target = data[columns.target]
    time = columns.time
    facts: list[tuple[str, Any]] = [("rows", len(data)), ("features", len(features))]
    if time in data:
        facts.append(("time range", f"{data[time].min()} → {data[time].max()}"))
    if set(target.dropna().unique()) <= {0, 1}:
        facts.append(("positive ratio", float(target.mean())))
    else:
        facts.append(("target mean / std", f"{target.mean():.5g} / {target.std():.5g}"))
    refit_range = ""
    if time in data:
        refit_range = f" ({data[time].iloc[rows[0]]} → {data[time].iloc[rows[-1]]})"
    facts.append(("rows the folds use (refit data)", f"{len(rows)}{refit_range}"))
    return _facts_table(facts)


def _failed_trials(tuning_results: pd.DataFrame, limit: int) -> str:
    failed = tuning_results[tuning_results["status"] != OK].sort_values(["combo_id", "fold_id"])
    if failed.empty:
        return f"<p>None: all {len(tuning_results)} trials finished ok.</p>"
    columns = [
        c
        for c in ("trial_id", "combo_id", "fold_id", "status", "executor_id", "host")
        if c in failed
    ]
    header = "".join(f'<th class="text">{html.escape(c)}</th>' for c in [*columns, "error"])
    body = "\n".join(
        "<tr>"
        + "".join(f'<td class="text">{html.escape(_format_value(row[c]))}</td>' for c in columns)
        + f'<td class="text"><pre>{html.escape(truncate(row["error"], limit))}</pre></td></tr>'
        for _, row in failed.iterrows()
    )
    summary = f"<p>{len(failed)} of {len(tuning_results)} trials did not finish ok.</p>"
    return f"{summary}\n<table>\n<tr>{header}</tr>\n{body}\n</table>"


def _figures(
    *,
    leaderboard: pd.DataFrame,
    tuning_results: pd.DataFrame,
    feature_importance: pd.DataFrame,
    test_predictions: pd.DataFrame | None,
    tuning_params: TuningParams,
    params: ReportingParams,
) -> str:
    """Every plot as an embedded base64 PNG <figure>.

    MatplotlibDataset cannot be loaded back, so the plots are rebuilt here with the same functions
    (and inputs) the plot nodes use rather than read from the `*_plot` datasets.
    """
    figures = {
        "metric_per_fold": plot_metric_per_fold(tuning_results, leaderboard, tuning_params, params),
        "param_effects": plot_param_effects(leaderboard, tuning_params),
        "fit_time_vs_metric": plot_fit_time_vs_metric(leaderboard, tuning_params),
        "feature_importance": plot_feature_importance(feature_importance, params),
        "resource_use": plot_resource_use(tuning_results),
    }
    if test_predictions is not None:
        figures["predicted_vs_actual"] = plot_predicted_vs_actual(test_predictions)
        figures["residuals"] = plot_residuals(test_predictions)
    return "\n".join(
        f'<figure id="{name}_plot"><img alt="{name}" '
        f'src="data:image/png;base64,{_figure_png_base64(fig, params.figure_dpi)}">'
        f"<figcaption>{html.escape(_FIGURE_CAPTIONS[name])}</figcaption></figure>"
        for name, fig in figures.items()
    )


def _refit_facts(best_params: dict[str, Any], booster: lgb.Booster, n_rows: int) -> str:
    selection = best_params.get("selection", {})
    return _facts_table(
        [
            ("combination", selection.get("combo_id")),
            ("rows (union of all folds' train and test rows)", n_rows),
            ("boosting rounds", best_params.get("tuning", {}).get("num_boost_round")),
            ("rounds rule", selection.get("num_boost_round_rule")),
            ("trees in the saved model", booster.num_trees()),
            ("features", booster.num_feature()),
            ("catalog datasets", "refit_model (LightGBM text), feature_importance"),
        ]
    )


def _fold_sizes(timeseries_folds: pd.DataFrame) -> pd.DataFrame:
    """Rows per fold and split, from the fold table (when no fold_summary is given)."""
    sizes = timeseries_folds.groupby(["fold_id", "split"]).size().unstack("split", fill_value=0)
    return sizes.rename(columns=lambda split: f"n_{split}").reset_index()


def render_report(
    *,
    leaderboard: pd.DataFrame,
    best_params: dict[str, Any],
    tuning_results: pd.DataFrame,
    tuning_run_info: dict[str, Any],
    timeseries_data: pd.DataFrame,
    timeseries_folds: pd.DataFrame,
    feature_importance: pd.DataFrame,
    refit_model: str,
    tuning_params: TuningParams,
    columns: ColumnParams,
    params: ReportingParams,
    fold_summary: pd.DataFrame | None = None,
    test_predictions: pd.DataFrame | None = None,
) -> str:
    """One self-contained HTML page: run facts, data and folds (`fold_summary`, else the fold
    sizes), leaderboard, best params, refit, every plot as an embedded base64 PNG (with
    `test_predictions`: predicted vs actual and residuals too), and failed trials with their errors.
    """
    require_rows(leaderboard, "leaderboard", ("rank", "combo_id"))
    require_rows(tuning_results, "tuning_results", ("status", "error"))
    require_rows(timeseries_folds, "timeseries_folds", FOLD_COLUMNS)
    if not refit_model or not refit_model.startswith("tree"):
        raise ReportingError(
            "refit_model is not a LightGBM text model (it must start with 'tree')."
        )
    booster = lgb.Booster(model_str=refit_model)
    rows = covered_rows(timeseries_folds, len(timeseries_data))
    primary = tuning_params.primary_metric
    folds = fold_summary if fold_summary is not None else _fold_sizes(timeseries_folds)
    page = _REPORT.substitute(
        title=html.escape(params.title),
        subtitle=html.escape(
            f"Primary metric: {primary} (tuning.primary_metric; {direction(primary)} is better). "
            f"Tuning run ended {tuning_run_info.get('ended_at', 'at an unknown time')}."
        ),
        run_facts=_run_facts(tuning_run_info),
        data_summary=_data_summary(timeseries_data, rows, columns),
        folds=_frame_table(folds),
        top_n=min(params.top_n, len(leaderboard)),
        n_combinations=len(leaderboard),
        ranking_rule=html.escape(
            f"Mean and sample std over each combination's ok folds. Ranked by mean {primary}, "
            "then fewer failed folds, then lower std, then combo_id."
        ),
        leaderboard=_frame_table(leaderboard.sort_values("rank").head(params.top_n)),
        # The paste-able `tuning:` block first, however the YAML dataset ordered the keys.
        best_params=html.escape(
            yaml.safe_dump(
                plain({"tuning": best_params.get("tuning"), **best_params}), sort_keys=False
            )
        ),
        refit=_refit_facts(best_params, booster, len(rows)),
        figures=_figures(
            leaderboard=leaderboard,
            tuning_results=tuning_results,
            feature_importance=feature_importance,
            test_predictions=test_predictions,
            tuning_params=tuning_params,
            params=params,
        ),
        failed=_failed_trials(tuning_results, params.max_error_chars),
    )
    logger.info("Tuning report rendered (%d KiB) as '%s'", len(page) // 1024, REPORT_DATASET)
    return page
