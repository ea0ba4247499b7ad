"""Reporting pipeline: rank the tuning trials, refit the winner, plot, and write one HTML report."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from .nodes import (
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


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                rank_combinations,
                inputs=["tuning_results@pandas", "params:tuning", "params:reporting"],
                outputs=["leaderboard", "leaderboard_csv"],
                name="rank_combinations",
            ),
            Node(
                select_best_params,
                inputs=[
                    "leaderboard",
                    "tuning_results@pandas",
                    "params:tuning",
                    "params:reporting",
                ],
                outputs="best_params",
                name="select_best_params",
            ),
            Node(
                refit_best_model,
                inputs=[
                    "best_params",
                    "timeseries_data@pandas",
                    "timeseries_folds@pandas",
                    "params:reporting",
                ],
                outputs=["refit_model", "feature_importance"],
                name="refit_best_model",
            ),
            Node(
                plot_metric_per_fold,
                inputs=[
                    "tuning_results@pandas",
                    "leaderboard",
                    "params:tuning",
                    "params:reporting",
                ],
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
                inputs="tuning_results@pandas",
                outputs="resource_use_plot",
                name="plot_resource_use",
            ),
            Node(
                render_report,
                inputs={
                    "leaderboard": "leaderboard",
                    "best_params": "best_params",
                    "tuning_results": "tuning_results@pandas",
                    "tuning_run_info": "tuning_run_info",
                    "timeseries_data": "timeseries_data@pandas",
                    "timeseries_folds": "timeseries_folds@pandas",
                    "fold_summary": "fold_summary",
                    "feature_importance": "feature_importance",
                    "refit_model": "refit_model",
                    "tuning_params": "params:tuning",
                    "params": "params:reporting",
                },
                outputs="tuning_report",
                name="render_report",
            ),
        ]
    )
