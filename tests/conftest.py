"""Shared fixtures: one small local SparkSession for the whole test session, the project path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from tests.cluster import standalone_cluster  # noqa: F401 - fixture: 2-worker standalone cluster

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that runs Spark jobs (it uses the `spark` session, directly or through a fixture)
    belongs to the slow tier: the fast tier runs no Spark job."""
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def spark() -> SparkSession:
    """A two-core local session bound to loopback, stopped when the test session ends."""
    # Python workers run this venv's interpreter (PySpark's default is a bare `python3`).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("spark-lgbm-tuning-tests")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def make_immutable():
    """`make_immutable(path)`: `chattr +i path` (binds root too), undone at teardown so that
    tmp_path can be removed; skips where the file system or the user cannot set it."""
    made: list[Path] = []

    def immutable(path: Path) -> Path:
        result = subprocess.run(
            ["chattr", "+i", str(path)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            pytest.skip(f"chattr +i is not available on {path}: {result.stderr.strip()!r}")
        made.append(path)
        return path

    yield immutable
    for path in reversed(made):
        subprocess.run(["chattr", "-i", str(path)], check=False)
