"""The reporting pipeline reused for regression under the `regression` namespace.

As tuning_regression does for the tuning pipeline: namespacing prefixes the outputs
(`regression.leaderboard`, `regression.tuning_report`, ...) and the inputs the regression search
wrote (`regression.tuning_results@pandas`, `regression.tuning_run_info`) and `params:tuning` ->
`params:regression.tuning`. The data and folds map to the regression ones; `params:reporting`,
`params:columns` and `run_environment` (the code the run uses) stay shared.

    kedro run --pipelines tuning_regression,reporting_regression
"""

from kedro.pipeline import Pipeline, pipeline

from spark_lgbm_tuning.pipelines.reporting.pipeline import (
    create_pipeline as create_reporting_pipeline,
)


def create_pipeline(**kwargs) -> Pipeline:
    """regression.tuning_results + regression_data + regression_folds -> regression.tuning_report."""
    return pipeline(
        create_reporting_pipeline(task="regression"),
        namespace="regression",
        inputs={
            "model_input": "regression_data",
            "model_folds": "regression_folds",
            "run_environment": "run_environment",
        },
        parameters={"params:reporting": "params:reporting", "params:columns": "params:columns"},
    )
