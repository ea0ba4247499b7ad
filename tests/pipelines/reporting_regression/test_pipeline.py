"""The reporting nodes reused under the `regression` namespace, and a small regression search
reported end to end (tuning_regression then reporting_regression in one KedroSession, tracked on
the embedded MLflow store): the project's one end-to-end regression run."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.config import OmegaConfigLoader
from kedro.framework.project import configure_project
from kedro.framework.session import KedroSession
from kedro.io import DataCatalog
from kedro.validation.exceptions import ParameterValidationError
from kedro.validation.parameter_validator import ParameterValidator
from mlflow.tracking import MlflowClient

from spark_lgbm_tuning.pipeline_registry import register_pipelines
from spark_lgbm_tuning.pipelines.data_generation.nodes import (
    generate_regression,
    make_regression_folds,
)
from spark_lgbm_tuning.pipelines.data_generation.params import DataGenerationParams
from spark_lgbm_tuning.pipelines.reporting_regression import create_pipeline
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.vocabulary import lightgbm_params
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from spark_lgbm_tuning.vocabulary.statuses import OK
from spark_lgbm_tuning.vocabulary.trial_columns import PARAM_PREFIX
from tests.project_copy import scratch_project

REPORT = "data/08_reporting/regression_tuning_report.html"
#: The regression report's figures, in the order the page shows them.
FIGURES = (
    "predicted_vs_actual",
    "residuals",
    "learning_curves",
    "feature_importance",
    "metric_per_fold",
    "param_effects",
    "fit_time_vs_metric",
    "resource_use",
)


def _config(project_root: Path) -> OmegaConfigLoader:
    return OmegaConfigLoader(str(project_root / "conf"), base_env="base", default_run_env="local")


def test_nodes_datasets_and_parameters_are_namespaced():
    pipeline = create_pipeline()
    assert {node.name for node in pipeline.nodes} >= {
        "regression.rank_combinations",
        "regression.select_test_predictions",
        "regression.plot_residuals",
        "regression.render_report",
    }
    assert pipeline.inputs() == {
        "regression.tuning_results@pandas",
        "regression.tuning_predictions",
        "regression.tuning_learning_curves",
        "regression.tuning_run_info",
        "regression_data@pandas",
        "regression_folds@pandas",
        "run_environment",
        "params:regression.tuning",
        "params:reporting",
        "params:columns",
    }
    assert "regression.tuning_report" in pipeline.outputs()
    # The figures feed the report; each is a namespaced dataset of its own.
    assert {f"regression.{name}_figure" for name in FIGURES} <= pipeline.datasets()
    assert not {name for name in pipeline.datasets() if "roc_curve" in name}


def test_every_dataset_resolves_to_a_catalog_entry(project_root: Path):
    """No dataset becomes a silent MemoryDataset; the report and plots are versioned files
    apart from the classification ones."""
    config = _config(project_root)["catalog"]
    catalog = DataCatalog.from_config(config)
    datasets = {name for name in create_pipeline().datasets() if not name.startswith("params:")}
    assert sorted(name for name in datasets if name not in catalog) == []
    assert config["regression.tuning_report"]["versioned"] is True
    assert config["regression.tuning_report"]["filepath"] == REPORT
    assert config["regression.tuning_report"]["filepath"] != config["tuning_report"]["filepath"]
    figure = catalog.get("regression.residuals_figure")
    assert str(figure._filepath).endswith("data/08_reporting/regression_residuals.json")


def test_find_pipelines_registers_it():
    configure_project("spark_lgbm_tuning")
    pipelines = register_pipelines()
    assert "reporting_regression" in pipelines
    assert "regression.render_report" in {
        node.name for node in pipelines["reporting_regression"].nodes
    }


def test_kedro_validates_the_namespaced_tuning_parameters(project_root: Path):
    parameters = _config(project_root)["parameters"]
    validator = ParameterValidator({"reporting_regression": create_pipeline()})
    validated = validator.validate_raw_params(parameters)
    assert type(validated["regression"]["tuning"]) is TuningParams
    assert validated["regression"]["tuning"].primary_metric == "rmse"
    bad = {**parameters, "regression": {"tuning": {**parameters["regression"]["tuning"]}}}
    bad["regression"]["tuning"]["primary_metric"] = "auc_roc"
    with pytest.raises(ParameterValidationError, match="'auc_roc' does not apply"):
        validator.validate_raw_params(bad)


@pytest.fixture
def kedro_project(tmp_path: Path, project_root: Path, spark):
    """A scratch project holding small regression data and folds from the data_generation nodes
    (the hook reuses the `spark` session)."""
    with scratch_project(tmp_path) as root:
        raw = yaml.safe_load(
            (project_root / "conf/base/parameters_data_generation.yml").read_text()
        )
        params = DataGenerationParams.model_validate(
            {**raw["data_generation"], "n_samples": 1200, "n_features": 6}
        )
        data = generate_regression(params, ColumnParams())
        data.to_parquet(root / "data/01_raw/regression.parquet")
        make_regression_folds(data).to_parquet(
            root / "data/05_model_input/regression_folds.parquet"
        )
        yield root


@pytest.mark.slow
def test_a_regression_search_gets_its_html_report(kedro_project: Path, caplog, monkeypatch):
    """The one end-to-end regression run: tuning_regression's namespaced results, this
    pipeline's report, and both tracked on the embedded MLflow store under the namespace."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    caplog.set_level(logging.INFO)
    # Runtime params merge key by key: conf/base's learning_rate axis stays unless named here.
    grid = {"num_leaves": [7, 15], "learning_rate": [0.1]}
    small = {"grid": grid, "num_boost_round": 40, "early_stopping_rounds": 5}
    with KedroSession.create(
        project_path=kedro_project, runtime_params={"regression": {"tuning": small}}
    ) as session:
        session.run(pipeline_names=["tuning_regression", "reporting_regression"])

    _assert_namespaced_search_results(kedro_project, caplog.messages)
    _assert_tracked_under_the_namespace(kedro_project)
    (report,) = (kedro_project / REPORT).glob("*/regression_tuning_report.html")
    page = report.read_text()
    assert re.findall(r'<figure id="(\w+)"><div', page) == list(FIGURES)
    assert "Primary metric: rmse (tuning.primary_metric; lower is better)" in page
    assert "target mean / std" in page
    board = pd.read_parquet(kedro_project / "data/08_reporting/regression_leaderboard.parquet")
    assert len(board) == 2 and board["rmse_mean"].is_monotonic_increasing
    predictions = pd.read_parquet(
        kedro_project / "data/07_model_output/regression_test_predictions.parquet"
    )
    assert sorted(predictions["row"]) == list(range(1200))  # each row tested once (KFold)
    curves = pd.read_parquet(
        kedro_project / "data/07_model_output/regression_learning_curves.parquet"
    )
    # Early stopping after 5 rounds without improvement: no fold boosts past its best + 5.
    assert (
        curves.groupby("fold_id")["round"].max()
        <= curves.groupby("fold_id")["best_iteration"].first() + 5
    ).all()
    for name in FIGURES:
        (saved,) = (kedro_project / "data/08_reporting").glob(f"regression_{name}.json/*/*.json")
        assert json.loads(saved.read_text())["data"], name
    # The classification report is not touched.
    assert not (kedro_project / "data/08_reporting/tuning_report.html").exists()


def _assert_namespaced_search_results(project: Path, messages: list[str]) -> None:
    """tuning_regression wrote its own outputs: regression metrics only, the grid's columns."""
    ran = [message for message in messages if message.startswith("Running node")]
    assert any("-> [regression.tuning_results@pandas;" in message for message in ran)
    output = project / "data/07_model_output"
    results = pd.read_parquet(output / "regression_tuning_results.parquet")
    info = json.loads((output / "regression_tuning_run_info.json").read_text())
    n_folds = pd.read_parquet(project / "data/05_model_input/regression_folds.parquet")[
        "fold_id"
    ].nunique()
    assert len(results) == 2 * n_folds and (results["status"] == OK).all()
    assert results[list(lightgbm_params.REGRESSION_METRICS)].notna().all().all()
    assert results[list(lightgbm_params.CLASSIFICATION_METRICS)].isna().all().all()
    assert results["classification_report"].isna().all()
    assert sorted(results.filter(like=PARAM_PREFIX).columns) == [
        "param_learning_rate",
        "param_num_leaves",
    ]
    assert info["task"] == "regression" and info["primary_metric"] == "rmse"
    assert info["best_primary_metric"] == results["rmse"].min()
    assert info["n_trials"] == len(results)
    assert (project / "data/05_model_input/regression_tuning_trials.parquet").is_file()


def _assert_tracked_under_the_namespace(project: Path) -> None:
    """One MLflow run on the embedded SQLite store, its combinations nested and namespaced."""
    client = MlflowClient(f"sqlite:///{project / 'data/09_tracking/mlruns.db'}")
    experiment = client.get_experiment_by_name("spark_lgbm_tuning")
    runs = client.search_runs([experiment.experiment_id])
    [parent] = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    run_id = parent.info.run_id
    assert parent.info.status == "FINISHED"
    assert parent.info.artifact_uri.startswith((project / "data/09_tracking/mlruns").as_uri())
    results = pd.read_parquet(project / "data/07_model_output/regression_tuning_results.parquet")
    assert parent.data.metrics["regression.search.n_trials"] == len(results)
    assert parent.data.params["regression.tuning.grid.learning_rate"] == "[0.1]"
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == run_id]
    assert len(children) == 2 and {run.data.tags["namespace"] for run in children} == {"regression"}
    assert all("rmse_mean" in run.data.metrics for run in children)
    assert [run.data.tags.get("best") for run in children].count("true") == 1
    [model] = client.search_logged_models([parent.info.experiment_id])
    assert model.name == "regression_model" and model.source_run_id == run_id
    assert [item.path for item in client.list_artifacts(run_id, "regression/report")] == [
        "regression/report/regression_tuning_report.html"
    ]
    assert "regression/plots/regression_residuals.json" in {
        item.path for item in client.list_artifacts(run_id, "regression/plots")
    }
