"""hooks/run_env.py: the report's dataset learns the run's env; a run in another env names the
conf/local parameter files it skips."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from kedro.io import DataCatalog, MemoryDataset

from spark_lgbm_tuning.datasets.run_environment import RunEnvironmentDataset
from spark_lgbm_tuning.hooks.run_env import RunEnvironmentHooks
from tests.cluster import kedro_run
from tests.project_copy import copy_project


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    return copy_project(tmp_path)


@pytest.mark.parametrize(("env", "shown"), [("docker", "docker"), (None, "local")])
def test_the_run_environment_dataset_learns_the_runs_kedro_env(env, shown, monkeypatch):
    # `kedro run --env docker` sets no KEDRO_ENV: the report knew the env only from the variable.
    monkeypatch.delenv("KEDRO_ENV", raising=False)
    catalog = DataCatalog({"run_environment": RunEnvironmentDataset(), "other": MemoryDataset(1)})
    hooks = RunEnvironmentHooks()
    hooks.after_context_created(
        SimpleNamespace(env=env, config_loader=SimpleNamespace(default_run_env="local"))
    )
    hooks.after_catalog_created(catalog)
    assert catalog.load("run_environment")["kedro_env"] == shown


@pytest.mark.slow
def test_a_run_in_another_env_names_the_conf_local_parameters_it_skips_in_one_warning(
    project_copy,
):
    """Issue 32: `kedro run --env connect` read no conf/local parameter file, silently."""
    local = project_copy / "conf" / "local"
    (local / "parameters_tuning.yml").write_text("tuning:\n  grid:\n    num_leaves: [7, 15]\n")
    (local / "spark.yml").write_text("spark.sql.shuffle.partitions: 2\n")  # not parameters
    run = kedro_run(
        project_copy,
        "--env",
        "connect",
        "--pipelines",
        "data_generation",
        "--params",
        "data_generation.n_samples=300,data_generation.n_features=4",
        extra_env={"COLUMNS": "1000"},  # rich wraps a record at the terminal's width
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    warning = (
        "WARNING  conf/local/parameters_tuning.yml holds parameters that the connect env does "
        "not read (a run reads conf/base and conf/connect only): move them to conf/connect/, "
        "or run with the default env (no --env or KEDRO_ENV) to read conf/local"
    )
    lines = [line for line in output.splitlines() if "conf/local" in line]
    assert len(lines) == 1 and warning in lines[0], output[-3000:]
    assert "spark.yml" not in output
