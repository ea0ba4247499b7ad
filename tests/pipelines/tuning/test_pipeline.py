"""The tuning pipeline: its catalog contract, a sliced in-memory run, and a KedroSession run."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.config import OmegaConfigLoader
from kedro.framework.session import KedroSession
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from spark_lgbm_tuning.pipelines.tuning import create_pipeline
from spark_lgbm_tuning.pipelines.tuning.nodes import expand_search_space, run_trials
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from spark_lgbm_tuning.vocabulary.errors import ConfigError
from tests.pipelines.tuning.data import model_input, time_folds, tuning_params
from tests.project_copy import scratch_project

DATA_PATH = "data/01_raw/timeseries_classification.parquet"
FOLDS_PATH = "data/05_model_input/model_folds.parquet"
# A small search on top of conf/base (runtime params merge key by key, lists replace).
SMALL_SEARCH = {
    "grid": {"num_leaves": [7, 15], "learning_rate": [0.1], "min_child_samples": [20]},
    "num_boost_round": 30,
    "early_stopping_rounds": 5,
}


def test_node_names_and_datasets():
    pipeline = create_pipeline()

    assert [node.name for node in pipeline.nodes] == ["expand_search_space", "run_trials"]
    assert pipeline.inputs() == {
        "model_input@pandas",
        "model_folds@pandas",
        "params:tuning",
        "params:columns",
        "tuning_trial_store",
    }
    assert pipeline.outputs() == {
        "tuning_results@pandas",
        "tuning_run_info",
        "tuning_predictions",
        "tuning_learning_curves",
    }
    # No dataset of run_trials is a Spark one now: the tag starts the session for it.
    assert "spark" in pipeline.nodes[1].tags


def test_every_dataset_resolves_to_a_catalog_entry(project_root: Path):
    """No dataset of the pipeline falls back to a silent MemoryDataset."""
    conf = OmegaConfigLoader(str(project_root / "conf"), base_env="base", default_run_env="local")
    catalog = DataCatalog.from_config(conf["catalog"])
    datasets = {name for name in create_pipeline().datasets() if not name.startswith("params:")}

    assert sorted(name for name in datasets if name not in catalog) == []
    assert "tuning_results@pandas" in catalog  # what reporting reads
    assert "tuning_result@pandas" not in catalog  # the check can tell a typo


def test_sliced_expansion_runs_on_an_in_memory_catalog(project_root: Path):
    raw = (project_root / "conf/base/parameters_tuning.yml").read_text()
    params = TuningParams.model_validate(yaml.safe_load(raw)["tuning"])
    data = model_input()
    catalog = DataCatalog(
        datasets={
            "model_input@pandas": MemoryDataset(data),
            "model_folds@pandas": MemoryDataset(time_folds(data)),
            "params:tuning": MemoryDataset(params, copy_mode="assign"),
            "params:columns": MemoryDataset(ColumnParams(), copy_mode="assign"),
            "tuning_trials": MemoryDataset(),
        }
    )
    SequentialRunner().run(create_pipeline().only_nodes("expand_search_space"), catalog)
    trials = catalog.load("tuning_trials")

    assert len(trials) == 8 * 3
    assert trials["combo_id"].nunique() == 8


def _renamed_catalog(data: pd.DataFrame, columns: ColumnParams) -> DataCatalog:
    renamed = data.rename(
        columns=lambda name: name.replace("feature_", "x_").replace("target", "label")
    )
    return DataCatalog(
        datasets={
            "model_input@pandas": MemoryDataset(renamed),
            "model_folds@pandas": MemoryDataset(time_folds(data)),
            "params:tuning": MemoryDataset(tuning_params(), copy_mode="assign"),
            "params:columns": MemoryDataset(columns, copy_mode="assign"),
            "tuning_trial_store": MemoryDataset(None),
        }
    )


def test_renamed_columns_flow_through_both_nodes(spark):
    """params:columns names the label and the inputs: both nodes train on exactly those."""
    data = model_input()
    columns = ColumnParams(target="label", feature_prefix="x_")
    catalog = _renamed_catalog(data, columns)
    SequentialRunner().run(create_pipeline(), catalog)
    results = catalog.load("tuning_results@pandas")

    assert len(results) == 2 * 3 and (results["status"] == "ok").all()
    # The same data under other names: the same metrics as the default names give.
    expected = run_trials(
        data,
        time_folds(data),
        expand_search_space(data, time_folds(data), tuning_params(), ColumnParams()),
        tuning_params(),
        ColumnParams(),
    )[0]
    assert results["auc_roc"].tolist() == expected["auc_roc"].tolist()


def test_data_without_the_configured_columns_is_refused_by_name():
    catalog = _renamed_catalog(model_input(), ColumnParams())
    with pytest.raises(ValueError, match="The data has no target column 'target'"):
        SequentialRunner().run(create_pipeline().only_nodes("expand_search_space"), catalog)


@pytest.fixture
def kedro_project(tmp_path: Path, project_root: Path, spark):
    """A scratch project with small inputs; `spark` makes the hook reuse the test session."""
    with scratch_project(tmp_path) as root:
        data = model_input()
        data.to_parquet(root / DATA_PATH)
        time_folds(data).to_parquet(root / FOLDS_PATH)
        yield root


@pytest.mark.slow
def test_kedro_run_writes_results_reporting_can_read(kedro_project: Path, caplog):
    """The tuning pipeline's one KedroSession run, then a second one that reuses every stored
    trial (the store's resume through Kedro, search.py)."""
    caplog.set_level(logging.INFO)
    info_path = kedro_project / "data/07_model_output/tuning_run_info.json"
    with KedroSession.create(
        project_path=kedro_project, runtime_params={"tuning": SMALL_SEARCH}
    ) as session:
        session.run(pipeline_names=["tuning"])
        catalog = session.load_context().catalog
        results = catalog.load("tuning_results@pandas")
    info = json.loads(info_path.read_text())
    trials = pd.read_parquet(kedro_project / "data/05_model_input/tuning_trials.parquet")
    with KedroSession.create(
        project_path=kedro_project, runtime_params={"tuning": SMALL_SEARCH}
    ) as session:
        session.run(pipeline_names=["tuning"])
    again = json.loads(info_path.read_text())
    rerun = pd.read_parquet(kedro_project / "data/07_model_output/tuning_results.parquet")

    assert [(run["n_reused"], run["n_run"]) for run in (info, again)] == [(0, 6), (6, 0)]
    assert len(rerun) == 6 and rerun["trial_id"].is_unique
    assert (kedro_project / "data/07_model_output/tuning_trial_store").is_dir()

    assert "Running node: run_trials" in caplog.text
    assert len(results) == len(trials) == 2 * 3
    assert sorted(results["trial_id"]) == sorted(trials["trial_id"])
    assert (results["status"] == "ok").all()
    assert results["auc_roc"].between(0.5, 1).all() and results["rmse"].isna().all()
    assert set(results["param_num_leaves"]) == {7, 15}
    assert pd.api.types.is_datetime64_any_dtype(results["started_at"])
    assert info["n_trials"] == 6 and info["n_ok"] == 6 and info["spark_master"] == "local[2]"
    assert set(info) >= {"app_id", "n_executors", "total_cores", "task_cpus", "wall_s"}
    assert set(info) >= {"started_at", "ended_at", "n_failed", "sum_fit_s", "efficiency"}


def test_kedro_rejects_bad_parameters_before_any_node(kedro_project: Path, caplog):
    caplog.set_level(logging.INFO)
    with KedroSession.create(
        project_path=kedro_project, runtime_params={"tuning": {"grid": {"num_leaves": 15}}}
    ) as session:
        # The project's config loader refuses it on reading --params, naming where it came from.
        with pytest.raises(ConfigError) as caught:
            session.run(pipeline_names=["tuning"])

    assert str(caught.value).startswith("--params: tuning.grid.num_leaves must be a list")
    assert "Running node" not in caplog.text
