"""scoring: `scoring_table` + the refit model + its encoding -> `scored_table`."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from .nodes import score_table


def create_pipeline(**kwargs) -> Pipeline:
    """Score every row of `scoring_table` with the refit model, on the executors."""
    return Pipeline(
        [
            Node(
                score_table,
                inputs=[
                    "scoring_table",
                    "refit_model",
                    "input_encoding",
                    "params:tuning.task",
                    "params:reporting.threshold",
                ],
                outputs="scored_table",
                name="score_table",
                # SparkHooks starts the session for it even when both tables are pandas.
                tags=["spark"],
            ),
        ]
    )
