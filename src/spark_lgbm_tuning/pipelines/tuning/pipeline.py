"""Classification search on the time-series data: expand the grid, run the trials on Spark."""

from kedro.pipeline import Node, Pipeline

from .nodes import expand_search_space, run_trials


def create_pipeline(**kwargs) -> Pipeline:
    """model_input + model_folds + params:tuning/columns -> tuning_trials -> results.

    run_trials reuses the finished trials of `tuning_trial_store` and appends the new ones.
    """
    return Pipeline(
        [
            Node(
                expand_search_space,
                inputs=[
                    "model_input@pandas",
                    "model_folds@pandas",
                    "params:tuning",
                    "params:columns",
                ],
                outputs="tuning_trials",
                name="expand_search_space",
            ),
            Node(
                run_trials,
                inputs=[
                    "model_input@pandas",
                    "model_folds@pandas",
                    "tuning_trials",
                    "params:tuning",
                    "params:columns",
                    # Finished trials of earlier runs; run_trials appends each new result.
                    "tuning_trial_store",
                ],
                # pandas DataFrames and a dict (no Spark write of a few rows), which the catalog
                # moves into place as one set (datasets/search_outputs.py); the tag tells
                # SparkHooks that this node needs the session, which no dataset now says.
                outputs=[
                    "tuning_results@pandas",
                    "tuning_run_info",
                    "tuning_predictions",
                    "tuning_learning_curves",
                ],
                name="run_trials",
                tags=["spark"],
            ),
        ]
    )
