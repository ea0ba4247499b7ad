"""Fixtures of the data_generation tests: parameters from conf/base, and a scratch Kedro project."""

from __future__ import annotations

import copy
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kedro.framework.startup import bootstrap_project

from spark_lgbm_tuning.pipelines.data_generation.nodes import DataGenerationParams

RawParams = dict[str, Any]


@pytest.fixture(scope="session")
def base_raw_params(project_root: Path) -> RawParams:
    """`data_generation` as conf/base/parameters_data_generation.yml writes it."""
    path = project_root / "conf" / "base" / "parameters_data_generation.yml"
    return yaml.safe_load(path.read_text())["data_generation"]


def merged(raw: RawParams, overrides: RawParams) -> RawParams:
    """`raw` with `overrides` merged in, nested dicts key by key (as `--params` merges)."""
    result = copy.deepcopy(raw)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


@pytest.fixture
def make_params(base_raw_params: RawParams) -> Callable[..., DataGenerationParams]:
    """Validated parameters: conf/base values with keyword overrides (nested dicts merge)."""

    def _make(**overrides: Any) -> DataGenerationParams:
        return DataGenerationParams.model_validate(merged(base_raw_params, overrides))

    return _make


@pytest.fixture
def kedro_project(tmp_path: Path, project_root: Path, spark) -> Iterator[Path]:
    """A scratch copy of the project (conf, pyproject.toml, .telemetry, empty data/ layers).

    Depends on `spark` so the project's hook reuses the test session instead of starting one.
    bootstrap_project puts <project>/src on sys.path and PYTHONPATH; both are restored after.
    """
    shutil.copytree(project_root / "conf", tmp_path / "conf")
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy(project_root / name, tmp_path / name)
    (tmp_path / "src").mkdir()  # bootstrap_project checks that the source dir exists
    for layer in ("01_raw", "05_model_input", "08_reporting"):
        (tmp_path / "data" / layer).mkdir(parents=True)
    saved_path, saved_pythonpath = list(sys.path), os.environ.get("PYTHONPATH")
    bootstrap_project(tmp_path)
    yield tmp_path
    sys.path[:] = saved_path
    if saved_pythonpath is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = saved_pythonpath
