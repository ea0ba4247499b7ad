"""Fixtures of the data_generation tests: parameters from conf/base, and a scratch Kedro project."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from spark_lgbm_tuning.pipelines.data_generation.params import DataGenerationParams
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from tests.project_copy import scratch_project

RawParams = dict[str, Any]
#: `params:columns` as conf/base/parameters.yml sets it (the ColumnParams defaults).
COLUMNS = ColumnParams()
#: Every column renamed: what the data_generation nodes write must follow params:columns.
RENAMED = ColumnParams(target="label", feature_prefix="x_", time="ts")


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
def kedro_project(tmp_path: Path, spark) -> Iterator[Path]:
    """A bootstrapped scratch copy of the project (tests/project_copy.py).

    Depends on `spark` so the project's hook reuses the test session instead of starting one.
    """
    with scratch_project(tmp_path) as project:
        yield project
