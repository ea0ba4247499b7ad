"""The project as a whole: registry, catalog coverage in every env, and the default run end to end."""

from __future__ import annotations

import logging
from pathlib import Path

import lightgbm as lgb
import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.io import DataCatalog

from spark_lgbm_tuning.pipeline_registry import declares_input_table
from spark_lgbm_tuning.pipelines.reporting.results import ReportingError
from spark_lgbm_tuning.user_tables import USER_TABLES
from spark_lgbm_tuning.vocabulary.statuses import OK
from tests.project_copy import copy_project, scratch_project

ENVS = ("base", "local", "docker", "cluster", "reference", "penguins_species")
DEFAULT_PIPELINES = ("data_generation", "tuning", "reporting")
# Small enough for CI, large enough that every fold has both classes.
SMALL_RUN = {
    "data_generation": {"n_samples": 3000, "n_features": 8},
    "tuning": {"grid": {"num_leaves": [7, 15], "learning_rate": [0.1], "min_child_samples": [20]}},
}


@pytest.fixture(scope="module")
def registered(project_root: Path):
    bootstrap_project(project_root)
    return pipelines


def test_default_pipeline_is_generation_tuning_reporting(registered):
    expected = sum((registered[name] for name in DEFAULT_PIPELINES), start=registered["tuning"])
    assert {node.name for node in registered["__default__"].nodes} == {
        node.name for node in expected.nodes
    }
    assert "tuning_regression" in registered
    assert not set(registered["tuning_regression"].nodes) & set(registered["__default__"].nodes)


@pytest.mark.parametrize("env", ENVS)
def test_every_dataset_of_every_pipeline_has_a_catalog_entry(registered, project_root, env):
    """A typo in a node's dataset name would silently become a MemoryDataset: refuse that. The
    user's tables are theirs to declare (conf/local), every other dataset is in the catalog."""
    config = OmegaConfigLoader(str(project_root / "conf"), base_env="base", default_run_env=env)
    catalog = DataCatalog.from_config(config["catalog"])
    parameters = config["parameters"]
    missing = []
    for name, pipeline in registered.items():
        for dataset in sorted(pipeline.datasets()):
            if dataset.startswith("params:"):
                top = dataset.removeprefix("params:").split(".")
                node = parameters
                for key in top:
                    node = node.get(key, {}) if isinstance(node, dict) else {}
                if not node:
                    missing.append(f"{name}: {dataset}")
            elif dataset not in ("parameters", *USER_TABLES) and dataset not in catalog:
                missing.append(f"{name}: {dataset}")
    assert missing == []


@pytest.mark.slow
def test_default_run_writes_the_report_and_says_where(
    spark, project_root, tmp_path, caplog, capsys
):
    """`kedro run` with no pipeline: data_generation -> tuning -> reporting, on small data.

    The project's one default run in-process. Its columns are renamed: `columns` is one setting,
    so generation writes the names, and tuning, the refit and the report read them. Then new
    data: reporting refuses the search's now stale results before writing anything.
    """
    columns = {"target": "label", "feature_prefix": "x_", "time": "ts"}
    with scratch_project(tmp_path / "project") as project:
        # The process's first bootstrap applies Kedro's logging config, which replaces the root
        # logger's handlers, caplog's among them: put it back (pytest removes it at teardown).
        logging.getLogger().addHandler(caplog.handler)
        caplog.set_level(logging.INFO)
        with KedroSession.create(
            project_path=project, runtime_params={**SMALL_RUN, "columns": columns}
        ) as session:
            session.run()
        leaderboard_path = project / "data/08_reporting/leaderboard.parquet"
        written = leaderboard_path.stat().st_mtime_ns
        new_data = {**SMALL_RUN, "columns": columns}
        new_data["data_generation"] = {**SMALL_RUN["data_generation"], "seed": 7}
        with KedroSession.create(project_path=project, runtime_params=new_data) as session:
            session.run(pipeline_names=["data_generation"])
        with KedroSession.create(project_path=project, runtime_params=new_data) as session:
            with pytest.raises(ReportingError, match="computed on other data than the current"):
                session.run(pipeline_names=["reporting"])
    assert leaderboard_path.stat().st_mtime_ns == written  # nothing rewritten from stale results

    reports = sorted(
        (project / "data/08_reporting/tuning_report.html").glob("*/tuning_report.html")
    )
    assert len(reports) == 1
    html = reports[0].read_text()
    assert html.lstrip().lower().startswith("<!doctype html")
    assert f"The tuning report is at {reports[0]}" in caplog.text
    # A stable copy of the newest report, its path printed whole on a line of its own.
    latest = project / "data/08_reporting/tuning_report_latest.html"
    assert latest.read_text() == html
    assert f"Report: {latest}\n" in capsys.readouterr().out

    data = pd.read_parquet(project / "data/01_raw/timeseries_classification.parquet")
    assert list(data.columns) == ["ts", *(f"x_{i}" for i in range(8)), "label"]
    results = pd.read_parquet(project / "data/07_model_output/tuning_results.parquet")
    assert len(results) == 2 * 4  # combinations x folds
    assert (results["status"] == OK).all()
    leaderboard = pd.read_parquet(project / "data/08_reporting/leaderboard.parquet")
    assert len(leaderboard) == 2

    models = sorted((project / "data/06_models/refit_model.txt").glob("*/refit_model.txt"))
    booster = lgb.Booster(model_file=str(models[0]))
    assert booster.feature_name() == [f"x_{i}" for i in range(8)]


def test_a_declared_input_table_is_found_in_the_runs_env(tmp_path):
    """What makes `kedro run` tune the user's table (cli.py): base declares none, an env may."""
    project = copy_project(tmp_path / "project")

    assert not declares_input_table(project, None, None)
    assert declares_input_table(project, "penguins", None)
    (project / "conf/local/catalog.yml").write_text(
        "input_table:\n  type: pandas.CSVDataset\n  filepath: mine.csv\n"
    )
    assert declares_input_table(project, None, None)
    assert not declares_input_table(project, "cluster", None)
