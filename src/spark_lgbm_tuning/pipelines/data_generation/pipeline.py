"""data_generation: synthetic tables (the preparation pipeline cuts the classification one's folds)."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from .nodes import generate_regression, generate_timeseries, make_regression_folds
from .plots import plot_sample_features


def create_pipeline(**kwargs) -> Pipeline:
    """Generate both datasets, the regression folds and a plot of the classification features."""
    return Pipeline(
        [
            Node(
                generate_timeseries,
                inputs=["params:data_generation", "params:columns"],
                outputs="timeseries_data@pandas",
                name="generate_timeseries",
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
                plot_sample_features,
                inputs=["timeseries_data@pandas", "params:data_generation", "params:columns"],
                outputs="sample_features_plot",
                name="plot_sample_features",
            ),
        ]
    )
