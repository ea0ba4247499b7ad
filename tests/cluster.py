"""Fixtures and helpers for tests that need a real Spark standalone cluster on 127.0.0.1.

`standalone_cluster` (session-scoped, 2 workers x 1 core x 1 GiB) is imported by conftest.py.
A SparkContext is one per process and the `spark` fixture may hold the local one, so code that
must run on the cluster runs in a subprocess: `kedro_run(project_dir, "--env", "cluster",
spark_master=cluster.master_url)` for a real Kedro run, or `run_python(script, ...)`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.local_cluster import LocalSparkCluster, fetch_json

PROJECT_ROOT = Path(__file__).resolve().parents[1]
KEDRO_RUN_TIMEOUT_S = 300


@pytest.fixture(scope="session")
def standalone_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSparkCluster]:
    """A master and two one-core workers; each worker offers 1 GiB, conf/cluster's executor size."""
    cluster = LocalSparkCluster(
        workers=2, cores=1, memory="1g", run_dir=tmp_path_factory.mktemp("local-cluster")
    )
    with cluster:
        yield cluster


def worker_json(cluster: LocalSparkCluster) -> list[dict]:
    """The JSON status page of every worker (running and finished executors per application)."""
    pages = []
    for info in cluster.state.processes:
        if info.role.startswith("worker"):
            pages.append(fetch_json(f"http://127.0.0.1:{info.webui_port}/json/"))
    return pages


def subprocess_env(spark_master: str | None = None) -> dict[str, str]:
    """This environment, with SPARK_MASTER set (or removed when None) and wide rich output."""
    env = dict(os.environ)
    env.pop("SPARK_MASTER", None)
    # Kedro logs and prints tracebacks through rich, which wraps at the terminal width.
    env["COLUMNS"] = "250"
    if spark_master is not None:
        env["SPARK_MASTER"] = spark_master
    return env


def kedro_run(
    project_dir: Path,
    *args: str,
    spark_master: str | None = None,
    timeout_s: float = KEDRO_RUN_TIMEOUT_S,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`kedro run ARGS` in `project_dir` with this venv's Kedro, output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "kedro", "run", *args],
        cwd=project_dir,
        env=subprocess_env(spark_master) | (extra_env or {}),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def run_tuning_on_cluster(
    project_dir: Path, cluster: LocalSparkCluster, *args: str, **kwargs
) -> subprocess.CompletedProcess[str]:
    """`kedro run --env cluster --pipeline tuning ARGS` against `cluster`."""
    return kedro_run(
        project_dir,
        "--env",
        "cluster",
        "--pipeline",
        "tuning",
        *args,
        spark_master=cluster.master_url,
        **kwargs,
    )


def executors_per_worker(cluster: LocalSparkCluster, app_id: str) -> list[int]:
    """How many executors (running or finished) each worker gave application `app_id`."""
    return [
        sum(
            1
            for executor in page["executors"] + page["finishedexecutors"]
            if executor["appid"] == app_id
        )
        for page in worker_json(cluster)
    ]


def run_python(script: str, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    """`python -c script ARGS` with this venv's Python, output captured as text."""
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def flat_output(run: subprocess.CompletedProcess[str]) -> str:
    """stdout + stderr with every run of whitespace as one space (rich wraps long lines)."""
    return " ".join((run.stdout + run.stderr).split())
