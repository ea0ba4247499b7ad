"""The HTML report: one self-contained page, the thing to open first after a search.

Leaderboard (sortable, parameters before ids), the top combinations per fold, the best
combination's out-of-fold figures, parameters and refit, the searched space, when and with
which code and data the search ran, and failed trials with their errors. The figures are the
plotly figures the plot nodes made (the catalog's `*_figure` datasets), embedded as they are;
a figure of the other task (prediction_plots.drawn_for) is left out.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import yaml

from spark_lgbm_tuning.pipelines.tuning.folds import FOLD_COLUMNS, covered_rows
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.vocabulary.columns import ColumnParams, feature_columns
from spark_lgbm_tuning.vocabulary.trial_columns import COMBO_ID, FOLD_FINGERPRINT, STATUS

from . import report_sections as sections
from .params import ReportingParams
from .prediction_plots import is_drawn
from .report_page import figure_html, page
from .results import ReportingError, direction, plain, require_rows

logger = logging.getLogger(__name__)

#: The catalog dataset that holds the report (a namespaced pipeline prefixes it, e.g.
#: `regression.tuning_report`); the pipeline names its output with it.
REPORT_DATASET = "tuning_report"

#: Every figure the report shows, by section, in order, with its caption. The pipeline passes
#: each as the `<name>_figure` dataset; the report shows those it is given.
FIGURES = {
    "best": {
        "roc_curve": "ROC curve of each fold's test part, predicted by that fold's model "
        "(multiclass: each class one vs rest, all folds).",
        "precision_recall": "Precision against recall on the test parts; hover for thresholds.",
        "confusion_matrix": "Actual vs predicted class at reporting.threshold, all test parts "
        "(multiclass: the most probable class).",
        "calibration": "Observed positive rate per predicted-probability bin; below: the "
        "predictions' distribution (multiclass: each class one vs rest).",
        "predicted_vs_actual": "Test parts: each fold's model (fit on the fold's train part) "
        "against the actual target.",
        "residuals": "Test parts: residuals against the prediction, and their distribution.",
        "learning_curves": "The test part's validation metric per boosting round, per fold.",
        "feature_importance": "Feature importance of the refit model.",
    },
    "search": {
        "metric_per_fold": "Primary metric on each fold for the top combinations.",
        "param_effects": "Each tuned parameter against the primary metric.",
        "fit_time_vs_metric": "Mean fit time against the primary metric.",
    },
    "run": {"resource_use": "Per-trial peak memory and CPU utilisation by executor."},
}


def _figures(section: str, figures: Mapping[str, go.Figure]) -> str:
    return "\n".join(
        figure_html(name, figures[name], caption)
        for name, caption in FIGURES[section].items()
        if name in figures and is_drawn(figures[name])
    )


def _run_facts(run_info: Mapping[str, Any]) -> str:
    return sections.facts_table(
        [
            ("started (UTC)", run_info.get("started_at")),
            ("ended (UTC)", run_info.get("ended_at")),
            ("wall time (s)", run_info.get("wall_s")),
            ("Spark master", run_info.get("spark_master")),
            ("application id", run_info.get("app_id")),
            ("executors", run_info.get("n_executors")),
            ("total cores", run_info.get("total_cores")),
            ("cores per task (spark.task.cpus)", run_info.get("task_cpus")),
            ("Σ fit time (s)", run_info.get("sum_fit_s")),
            # The tuning computes it (run_trials' run_info): one formula, shown here as recorded.
            ("Σ fit time ÷ (wall × task slots)", run_info.get("efficiency")),
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
    return sections.facts_table(facts)


def _refit_facts(best_params: dict[str, Any], booster: lgb.Booster, n_rows: int) -> str:
    selection = best_params.get("selection", {})
    return sections.facts_table(
        [
            ("combination", selection.get(COMBO_ID)),
            ("rows (union of all folds' train and test rows)", n_rows),
            ("boosting rounds", best_params.get("tuning", {}).get("num_boost_round")),
            ("rounds rule", selection.get("num_boost_round_rule")),
            ("trees in the saved model", booster.num_trees()),
            ("features", booster.num_feature()),
            ("catalog datasets", "refit_model (LightGBM text), feature_importance"),
        ]
    )


def _fold_sizes(model_folds: pd.DataFrame) -> pd.DataFrame:
    """Rows per fold and split, from the fold table (when no fold_summary is given)."""
    sizes = model_folds.groupby(["fold_id", "split"]).size().unstack("split", fill_value=0)
    return sizes.rename(columns=lambda split: f"n_{split}").reset_index()


def _checked_inputs(
    *,
    leaderboard: pd.DataFrame,
    tuning_results: pd.DataFrame,
    model_folds: pd.DataFrame,
    refit_model: str,
    figures: Mapping[str, Any],
) -> lgb.Booster:
    require_rows(leaderboard, "leaderboard", ("rank", COMBO_ID))
    require_rows(tuning_results, "tuning_results", ("trial_id", STATUS, "error", FOLD_FINGERPRINT))
    require_rows(model_folds, "model_folds", FOLD_COLUMNS)
    known = {name for section in FIGURES.values() for name in section}
    unknown = sorted(set(figures) - known)
    if unknown:
        raise ReportingError(f"render_report has no place for the figure(s) {unknown}.")
    not_figures = sorted(name for name, fig in figures.items() if not isinstance(fig, go.Figure))
    if not_figures:
        raise ReportingError(f"{not_figures} are not plotly figures.")
    if not refit_model or not refit_model.startswith("tree"):
        raise ReportingError(
            "refit_model is not a LightGBM text model (it must start with 'tree')."
        )
    return lgb.Booster(model_str=refit_model)


def _ranking_sections(
    board: pd.DataFrame,
    tuning_results: pd.DataFrame,
    run_info: Mapping[str, Any],
    tuning_params: TuningParams,
    params: ReportingParams,
) -> dict[str, Any]:
    """Title, subtitle (what ranks, when the search ran), leaderboard and per-fold table."""
    primary = tuning_params.primary_metric
    return {
        "title": html.escape(params.title),
        "subtitle": html.escape(
            f"Primary metric: {primary} (tuning.primary_metric; {direction(primary)} is better). "
            f"Search ran {run_info.get('started_at', '?')} → {run_info.get('ended_at', '?')} "
            f"(UTC) on {run_info.get('spark_master', '?')}."
        ),
        "top_n": min(params.top_n, len(board)),
        "n_combinations": len(board),
        "ranking_rule": html.escape(
            f"Mean and sample std over each combination's ok folds. Ranked by mean {primary}, "
            "then fewer failed folds, then lower std, then combo_id."
        ),
        "leaderboard": sections.sortable_table(
            sections.params_first(board.head(params.top_n), primary), "leaderboard-table"
        ),
        "primary": html.escape(primary),
        "top_n_folds": min(params.top_n_plot, len(board)),
        "per_fold": sections.sortable_table(
            sections.per_fold_table(tuning_results, board, primary, params.top_n_plot),
            "per-fold-table",
        ),
    }


def render_report(
    *,
    leaderboard: pd.DataFrame,
    best_params: dict[str, Any],
    tuning_results: pd.DataFrame,
    tuning_run_info: dict[str, Any],
    run_environment: dict[str, Any],
    model_input: pd.DataFrame,
    model_folds: pd.DataFrame,
    refit_model: str,
    tuning_params: TuningParams,
    columns: ColumnParams,
    params: ReportingParams,
    fold_summary: pd.DataFrame | None = None,
    **figures: go.Figure,
) -> str:
    """One self-contained HTML page (see the module docstring); `figures` are the plot nodes'
    plotly figures by name (FIGURES), embedded with plotly.js inlined once."""
    booster = _checked_inputs(
        leaderboard=leaderboard,
        tuning_results=tuning_results,
        model_folds=model_folds,
        refit_model=refit_model,
        figures=figures,
    )
    rows = covered_rows(model_folds, len(model_input))
    board = leaderboard.sort_values("rank")
    text = page(
        **_ranking_sections(board, tuning_results, tuning_run_info, tuning_params, params),
        best_figures=_figures("best", figures),
        # The paste-able `tuning:` block first, however the YAML dataset ordered the keys.
        best_params=html.escape(
            yaml.safe_dump(
                plain({"tuning": best_params.get("tuning"), **best_params}), sort_keys=False
            )
        ),
        refit=_refit_facts(best_params, booster, len(rows)),
        search_space=sections.search_space(tuning_params, tuning_run_info, len(board)),
        search_figures=_figures("search", figures),
        run_facts=_run_facts(tuning_run_info),
        outcomes=sections.outcome_counts(tuning_results, tuning_run_info),
        code_and_env=sections.code_and_env(run_environment, tuning_run_info),
        run_figures=_figures("run", figures),
        data_summary=_data_summary(model_input, rows, columns),
        fingerprints=sections.plain_table(sections.fingerprints(tuning_results)),
        folds=sections.plain_table(
            fold_summary if fold_summary is not None else _fold_sizes(model_folds)
        ),
        failed=sections.failed_trials(tuning_results, params.max_error_chars),
    )
    logger.info("Tuning report rendered (%d KiB) as '%s'", len(text) // 1024, REPORT_DATASET)
    return text
