"""data_generation: synthetic tables, the classification one prepared as the model input.

The same preparation nodes a user's `input_table` goes through, with their input mapped to the
synthetic table: `kedro run --pipelines data_generation` leaves what tuning reads.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline, pipeline

from spark_lgbm_tuning.pipelines.preparation import create_pipeline as create_preparation
from spark_lgbm_tuning.pipelines.preparation.pipeline import INPUT_TABLE

from .nodes import generate_regression, generate_timeseries, make_regression_folds
from .plots import plot_sample_features

SYNTHETIC_TABLE = "timeseries_data@pandas"


def create_pipeline(**kwargs) -> Pipeline:
    """Generate both datasets, the regression folds, a plot of the classification features; the
    classification table prepared and cut into folds."""
    generated = Pipeline(
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
    prepared = pipeline(create_preparation(), inputs={INPUT_TABLE: SYNTHETIC_TABLE})
    return generated + prepared
