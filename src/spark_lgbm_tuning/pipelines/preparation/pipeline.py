"""preparation: `input_table` -> the model input, its encoding, folds, fold summary and plots."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from .folds import summarise_folds
from .nodes import make_folds, prepare_input
from .plots import plot_fold_class_balance, plot_folds_timeline

# The dataset a user declares (conf/<env>/catalog.yml); read, never written.
INPUT_TABLE = "input_table"


def create_pipeline(**kwargs) -> Pipeline:
    """Check and encode the input's columns, cut the folds, summarise and plot them."""
    return Pipeline(
        [
            Node(
                prepare_input,
                inputs=[INPUT_TABLE, "params:columns", "params:tuning.task"],
                outputs=["model_input@pandas", "input_encoding"],
                name="prepare_input",
            ),
            Node(
                make_folds,
                inputs=["model_input@pandas", "params:preparation", "params:columns"],
                outputs="model_folds@pandas",
                name="make_folds",
            ),
            Node(
                summarise_folds,
                inputs=["model_input@pandas", "model_folds@pandas", "params:columns"],
                outputs="fold_summary",
                name="summarise_folds",
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
