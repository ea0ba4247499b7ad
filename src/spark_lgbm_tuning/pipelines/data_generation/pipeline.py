"""data_generation: the datasets and folds that the tuning pipelines read."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from .nodes import (
    generate_regression,
    generate_timeseries,
    make_regression_folds,
    make_timeseries_folds,
    summarise_folds,
)
from .plots import plot_fold_class_balance, plot_folds_timeline, plot_sample_features


def create_pipeline(**kwargs) -> Pipeline:
    """Generate both datasets, cut their folds, summarise and plot the time-ordered folds."""
    return Pipeline(
        [
            Node(
                generate_timeseries,
                inputs=["params:data_generation", "params:columns"],
                outputs="timeseries_data@pandas",
                name="generate_timeseries",
            ),
            Node(
                make_timeseries_folds,
                inputs=["timeseries_data@pandas", "params:data_generation", "params:columns"],
                outputs="timeseries_folds@pandas",
                name="make_timeseries_folds",
            ),
            Node(
                generate_regression,
                inputs=["params:data_generation", "params:columns"],
                outputs="regression_data@pandas",
                name="generate_regression",
            ),
            Node(
                make_regression_folds,
                inputs="regression_data@pandas",
                outputs="regression_folds@pandas",
                name="make_regression_folds",
            ),
            Node(
                summarise_folds,
                inputs=["timeseries_data@pandas", "timeseries_folds@pandas", "params:columns"],
                outputs="fold_summary",
                name="summarise_folds",
            ),
            Node(
                plot_sample_features,
                inputs=["timeseries_data@pandas", "params:data_generation", "params:columns"],
                outputs="sample_features_plot",
                name="plot_sample_features",
            ),
            Node(
                plot_folds_timeline,
                inputs="fold_summary",
                outputs="folds_timeline_plot",
                name="plot_folds_timeline",
            ),
            Node(
                plot_fold_class_balance,
                inputs="fold_summary",
                outputs="fold_class_balance_plot",
                name="plot_fold_class_balance",
            ),
        ]
    )
