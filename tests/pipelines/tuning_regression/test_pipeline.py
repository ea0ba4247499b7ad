"""The tuning nodes reused under the `regression` namespace, on the regression data.

The namespaced search end to end (its results, run info and trials table) is checked in the one
regression run of tests/pipelines/reporting_regression/test_pipeline.py, which runs this pipeline.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader
from kedro.framework.project import configure_project
from kedro.framework.session import KedroSession
from kedro.io import DataCatalog
from kedro.validation.exceptions import ParameterValidationError

from spark_lgbm_tuning.pipeline_registry import register_pipelines
from spark_lgbm_tuning.pipelines.tuning_regression import create_pipeline
from tests.pipelines.tuning.data import kfold_folds, regression_data
from tests.project_copy import scratch_project

DATA_PATH = "data/01_raw/regression.parquet"
FOLDS_PATH = "data/05_model_input/regression_folds.parquet"
OUTPUT_DIR = "data/07_model_output"


def test_nodes_datasets_and_parameters_are_namespaced():
    pipeline = create_pipeline()

    assert [node.name for node in pipeline.nodes] == [
        "regression.expand_search_space",
        "regression.run_trials",
    ]
    assert pipeline.inputs() == {
        "regression_data@pandas",
        "regression_folds@pandas",
        "params:regression.tuning",
        # One column setting for every pipeline: not namespaced.
        "params:columns",
        "regression.tuning_trial_store",
    }
    assert pipeline.outputs() == {
        "regression.tuning_results@pandas",
        "regression.tuning_run_info",
        "regression.tuning_predictions",
        "regression.tuning_learning_curves",
    }


def test_every_dataset_resolves_to_a_catalog_entry(project_root: Path):
    conf = OmegaConfigLoader(str(project_root / "conf"), base_env="base", default_run_env="local")
    catalog = DataCatalog.from_config(conf["catalog"])
    datasets = {name for name in create_pipeline().datasets() if not name.startswith("params:")}

    assert "regression.tuning_trials" in datasets
    assert sorted(name for name in datasets if name not in catalog) == []
    assert "regression.tuning_results@pandas" in catalog


def test_find_pipelines_registers_both_tuning_pipelines():
    configure_project("spark_lgbm_tuning")
    pipelines = register_pipelines()

    assert {"tuning", "tuning_regression"} <= set(pipelines)
    assert {node.name for node in pipelines["tuning_regression"].nodes} == {
        "regression.expand_search_space",
        "regression.run_trials",
    }


@pytest.fixture
def kedro_project(tmp_path: Path, project_root: Path, spark):
    """A scratch project with small regression inputs; the hook reuses the `spark` session."""
    with scratch_project(tmp_path) as root:
        data = regression_data()
        data.to_parquet(root / DATA_PATH)
        kfold_folds(data).to_parquet(root / FOLDS_PATH)
        yield root


def test_kedro_names_the_namespaced_parameter_when_invalid(kedro_project: Path):
    with KedroSession.create(
        project_path=kedro_project,
        runtime_params={"regression": {"tuning": {"primary_metric": "auc_roc"}}},
    ) as session:
        with pytest.raises(ParameterValidationError) as caught:
            session.run(pipeline_names=["tuning_regression"])

    assert "Parameter 'regression.tuning'" in str(caught.value)
    assert "primary_metric 'auc_roc' does not apply to task 'regression'" in str(caught.value)
