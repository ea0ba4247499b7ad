"""The reporting pipeline against the project's config; `kedro viz build` over the whole project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project
from kedro.io import DataCatalog

from spark_lgbm_tuning.pipelines.reporting import create_pipeline
from tests.project_copy import copy_project

VIZ_PIPELINES = ("data_generation", "tuning", "reporting")


def _config(project_root: Path) -> OmegaConfigLoader:
    return OmegaConfigLoader(str(project_root / "conf"), base_env="base", default_run_env="base")


def test_every_reporting_dataset_is_in_the_catalog(project_root):
    """No dataset silently becomes a MemoryDataset by a typo: each has an entry or a factory."""
    catalog = DataCatalog.from_config(_config(project_root)["catalog"])
    datasets = {name for name in create_pipeline().datasets() if not name.startswith("params:")}
    assert sorted(name for name in datasets if name not in catalog) == []


def test_reporting_parameters_are_in_the_config(project_root):
    parameters = _config(project_root)["parameters"]
    assert "reporting" in parameters


@pytest.mark.slow
def test_kedro_viz_build_lists_every_node_of_the_three_pipelines(project_root, tmp_path):
    """`kedro viz build` (offline) on a copy of the project shows every registered node."""
    copy_project(tmp_path)
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    kedro = Path(sys.executable).with_name("kedro")
    result = subprocess.run(
        [str(kedro), "viz", "build"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    build = tmp_path / "build" / "api"
    # kedro viz build exits 0 even when it fails, so the output files are the evidence.
    output = result.stdout + result.stderr
    error = output[output.find("ERROR:") :][:1500] if "ERROR:" in output else output[-1500:]
    assert (build / "main").is_file(), f"kedro viz build failed: {error}"

    bootstrap_project(tmp_path)
    missing = [name for name in VIZ_PIPELINES if name not in pipelines]
    assert not missing, f"pipelines not registered yet: {missing}"
    for name in VIZ_PIPELINES:
        registered = {node.name for node in pipelines[name].nodes}
        shown = json.loads((build / "pipelines" / name).read_text())["nodes"]
        assert {node["name"] for node in shown if node["type"] == "task"} == registered, name
    main = json.loads((build / "main").read_text())
    data_nodes = {node["name"]: node for node in main["nodes"] if node["type"] == "data"}
    assert data_nodes["tuning_report"]["layer"] == "reporting"
    assert data_nodes["refit_model"]["layer"] == "models"
