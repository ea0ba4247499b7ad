"""Reporting pipeline: rank the tuning trials, refit the winner, predict its folds out of fold,
plot, and write one HTML report.

`create_pipeline()` reports the search of `tuning.task`, read at run time: for a classification,
binary or multiclass, ROC, precision-recall, confusion matrix, calibration and learning curves
of the winner's out-of-fold predictions (multiclass: per class, one vs rest, and an N x N
confusion matrix); for a regression, predicted vs actual, residuals and learning curves. (Each
figure node of the other task returns a figure marked not drawn, which the report leaves out:
a user's table may hold either task, and a pipeline is built before its parameters are read.)
`create_pipeline(task="regression")` has the regression figures only and no fold summary: the
reporting_regression pipeline wraps it under the `regression` namespace, for the synthetic
regression data. Every figure is a
`<name>_figure` dataset (plotly JSON) that the report embeds.
"""

from __future__ import annotations

import functools
from typing import Literal

from kedro.pipeline import Node, Pipeline

from .current import check_results_are_current
from .nodes import (
    rank_combinations,
    refit_best_model,
    select_best_params,
)
from .plots import (
    plot_feature_importance,
    plot_fit_time_vs_metric,
    plot_metric_per_fold,
    plot_param_effects,
    plot_resource_use,
)
from .prediction_plots import (
    CLASSIFICATION_TASKS,
    REGRESSION_TASKS,
    drawn_for,
    plot_calibration,
    plot_confusion_matrix,
    plot_learning_curves,
    plot_precision_recall,
    plot_predicted_vs_actual,
    plot_residuals,
    plot_roc_curve,
)
from .predictions import select_test_predictions
from .report import REPORT_DATASET, render_report

DATA = "model_input@pandas"
FOLDS = "model_folds@pandas"
# tuning_results once check_results_are_current has shown they come from the current data:
# every other reporting node reads this one, so nothing is written from stale results.
RESULTS = "current_tuning_results"


def _ranking_and_refit(tuning_pipeline: str) -> list[Node]:
    return [
        Node(
            # Its refusals name the run that fixes them: the tuning pipeline of this namespace.
            functools.update_wrapper(
                functools.partial(check_results_are_current, tuning_pipeline=tuning_pipeline),
                check_results_are_current,
            ),
            inputs=[
                "tuning_results@pandas",
                "tuning_run_info",
                "tuning_predictions",
                "tuning_learning_curves",
                DATA,
                FOLDS,
                "params:tuning",
                "params:columns",
            ],
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


def _figure(func, inputs: str | list[str], name: str) -> Node:
    """A plot node: `plot_<name>` -> `<name>_figure`."""
    return Node(func, inputs=inputs, outputs=f"{name}_figure", name=f"plot_{name}")


def _search_plots() -> list[Node]:
    return [
        _figure(
            plot_metric_per_fold,
            [RESULTS, "leaderboard", "params:tuning", "params:reporting"],
            "metric_per_fold",
        ),
        _figure(plot_param_effects, ["leaderboard", "params:tuning"], "param_effects"),
        _figure(plot_fit_time_vs_metric, ["leaderboard", "params:tuning"], "fit_time_vs_metric"),
        _figure(
            plot_feature_importance,
            ["feature_importance", "params:reporting"],
            "feature_importance",
        ),
        _figure(plot_resource_use, RESULTS, "resource_use"),
    ]


CLASSIFICATION_FIGURES = {
    "roc_curve": (plot_roc_curve, ["test_predictions"]),
    "precision_recall": (plot_precision_recall, ["test_predictions"]),
    "confusion_matrix": (plot_confusion_matrix, ["test_predictions", "params:reporting"]),
    "calibration": (plot_calibration, ["test_predictions", "params:reporting"]),
}
REGRESSION_FIGURES = {
    "predicted_vs_actual": (plot_predicted_vs_actual, ["test_predictions"]),
    "residuals": (plot_residuals, ["test_predictions"]),
}


def _out_of_fold(task: str) -> list[Node]:
    """The winner's out-of-fold predictions and learning curves (its trials' own), and the task's
    figures of them: for `task="from_params"` both tasks' figures, each drawn only when
    `tuning.task` is its own (prediction_plots.drawn_for)."""
    inputs = ["best_params", "tuning_predictions", "tuning_learning_curves", "params:tuning"]
    nodes = [
        Node(
            select_test_predictions,
            # The class labels that name a multiclass winner's probabilities (the regression
            # namespace has no input encoding).
            inputs=inputs if task == "regression" else [*inputs, "input_encoding"],
            outputs=["test_predictions", "learning_curves"],
            name="select_test_predictions",
        ),
        _figure(plot_learning_curves, "learning_curves", "learning_curves"),
    ]
    if task == "regression":
        return nodes + [
            _figure(func, args, name) for name, (func, args) in REGRESSION_FIGURES.items()
        ]
    for tasks, figures in (
        (CLASSIFICATION_TASKS, CLASSIFICATION_FIGURES),
        (REGRESSION_TASKS, REGRESSION_FIGURES),
    ):
        nodes += [
            _figure(drawn_for(tasks, func), ["params:tuning", *args], name)
            for name, (func, args) in figures.items()
        ]
    return nodes


def create_pipeline(
    *, task: Literal["from_params", "regression"] = "from_params", **kwargs
) -> Pipeline:
    report_inputs = {
        "leaderboard": "leaderboard",
        "best_params": "best_params",
        "tuning_results": RESULTS,
        "tuning_run_info": "tuning_run_info",
        "run_environment": "run_environment",
        "model_input": DATA,
        "model_folds": FOLDS,
        "refit_model": "refit_model",
        "tuning_params": "params:tuning",
        "columns": "params:columns",
        "params": "params:reporting",
    }
    if task == "from_params":
        report_inputs["fold_summary"] = "fold_summary"
    tuning_pipeline = "tuning_regression" if task == "regression" else "tuning"
    nodes = _ranking_and_refit(tuning_pipeline) + _search_plots() + _out_of_fold(task)
    for node in nodes:
        for output in node.outputs:
            if output.endswith("_figure"):
                report_inputs[output.removesuffix("_figure")] = output
    report = Node(render_report, inputs=report_inputs, outputs=REPORT_DATASET, name="render_report")
    return Pipeline([*nodes, report])
