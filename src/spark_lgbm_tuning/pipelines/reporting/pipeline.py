"""Reporting pipeline: rank the tuning trials, refit the winner, plot, and write one HTML report.

`create_pipeline()` reports the classification search; `create_pipeline(task="regression")` is
the same pipeline for a regression search, with out-of-fold predictions of the winner and their
plots (predicted vs actual, residuals) instead of the time-series fold summary. The
reporting_regression pipeline wraps it under the `regression` namespace.
"""

from __future__ import annotations

from typing import Literal

from kedro.pipeline import Node, Pipeline

from .nodes import (
    check_results_are_current,
    predict_test_parts,
    rank_combinations,
    refit_best_model,
    select_best_params,
)
from .plots import (
    plot_feature_importance,
    plot_fit_time_vs_metric,
    plot_metric_per_fold,
    plot_param_effects,
    plot_predicted_vs_actual,
    plot_residuals,
    plot_resource_use,
)
from .report import REPORT_DATASET, render_report

DATA = "timeseries_data@pandas"
FOLDS = "timeseries_folds@pandas"
# tuning_results once check_results_are_current has shown they come from the current data:
# every other reporting node reads this one, so nothing is written from stale results.
RESULTS = "current_tuning_results"


def _ranking_and_refit() -> list[Node]:
    return [
        Node(
            check_results_are_current,
            inputs=["tuning_results@pandas", "tuning_trials", DATA, FOLDS, "params:columns"],
            outputs=RESULTS,
            name="check_results_are_current",
        ),
        Node(
            rank_combinations,
            inputs=[RESULTS, "params:tuning", "params:reporting"],
            outputs=["leaderboard", "leaderboard_csv"],
            name="rank_combinations",
        ),
        Node(
            select_best_params,
            inputs=["leaderboard", RESULTS, "params:tuning", "params:reporting"],
            outputs="best_params",
            name="select_best_params",
        ),
        Node(
            refit_best_model,
            inputs=["best_params", DATA, FOLDS, "params:columns", "params:reporting"],
            outputs=["refit_model", "feature_importance"],
            name="refit_best_model",
        ),
    ]


def _search_plots() -> list[Node]:
    return [
        Node(
            plot_metric_per_fold,
            inputs=[RESULTS, "leaderboard", "params:tuning", "params:reporting"],
            outputs="metric_per_fold_plot",
            name="plot_metric_per_fold",
        ),
        Node(
            plot_param_effects,
            inputs=["leaderboard", "params:tuning"],
            outputs="param_effects_plot",
            name="plot_param_effects",
        ),
        Node(
            plot_fit_time_vs_metric,
            inputs=["leaderboard", "params:tuning"],
            outputs="fit_time_vs_metric_plot",
            name="plot_fit_time_vs_metric",
        ),
        Node(
            plot_feature_importance,
            inputs=["feature_importance", "params:reporting"],
            outputs="feature_importance_plot",
            name="plot_feature_importance",
        ),
        Node(
            plot_resource_use,
            inputs=RESULTS,
            outputs="resource_use_plot",
            name="plot_resource_use",
        ),
    ]


def _test_part_predictions() -> list[Node]:
    return [
        Node(
            predict_test_parts,
            inputs=["best_params", DATA, FOLDS, "params:columns", "params:reporting"],
            outputs="test_predictions",
            name="predict_test_parts",
        ),
        Node(
            plot_predicted_vs_actual,
            inputs="test_predictions",
            outputs="predicted_vs_actual_plot",
            name="plot_predicted_vs_actual",
        ),
        Node(
            plot_residuals,
            inputs="test_predictions",
            outputs="residuals_plot",
            name="plot_residuals",
        ),
    ]


def create_pipeline(
    *, task: Literal["classification", "regression"] = "classification", **kwargs
) -> Pipeline:
    report_inputs = {
        "leaderboard": "leaderboard",
        "best_params": "best_params",
        "tuning_results": RESULTS,
        "tuning_run_info": "tuning_run_info",
        "timeseries_data": DATA,
        "timeseries_folds": FOLDS,
        "feature_importance": "feature_importance",
        "refit_model": "refit_model",
        "tuning_params": "params:tuning",
        "columns": "params:columns",
        "params": "params:reporting",
    }
    nodes = _ranking_and_refit() + _search_plots()
    if task == "regression":
        nodes += _test_part_predictions()
        report_inputs["test_predictions"] = "test_predictions"
    else:
        report_inputs["fold_summary"] = "fold_summary"
    report = Node(render_report, inputs=report_inputs, outputs=REPORT_DATASET, name="render_report")
    return Pipeline([*nodes, report])
