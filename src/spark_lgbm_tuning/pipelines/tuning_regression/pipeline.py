"""The tuning pipeline reused for regression under the `regression` namespace.

Namespacing prefixes the outputs (`regression.tuning_results@pandas`, ...) and the parameters
(`params:tuning` -> `params:regression.tuning`, from parameters_tuning_regression.yml); the inputs
are mapped to the regression data explicitly, and `params:columns` stays the one shared setting.
"""

from kedro.pipeline import Pipeline, pipeline

from spark_lgbm_tuning.pipelines.tuning.pipeline import create_pipeline as create_tuning_pipeline


def create_pipeline(**kwargs) -> Pipeline:
    """regression_data + regression_folds + params:regression.tuning -> regression.tuning_*."""
    return pipeline(
        create_tuning_pipeline(),
        namespace="regression",
        inputs={"model_input": "regression_data", "model_folds": "regression_folds"},
        parameters={"params:columns": "params:columns"},
    )
