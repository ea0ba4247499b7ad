"""Fixtures and helpers for tests that need a real Spark standalone cluster on 127.0.0.1.

`standalone_cluster` (session-scoped, 2 workers x 1 core x 1 GiB) is imported by conftest.py;
`connect_server(cluster, ...)` puts a Spark Connect server on 127.0.0.1 in front of a cluster.
A SparkContext is one per process and the `spark` fixture may hold the local one, so code that
must run on the cluster runs in a subprocess: `kedro_run(project_dir, "--env", "cluster",
spark_master=cluster.master_url)` for a real Kedro run, or `run_python(script, ...)`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.local_cluster import LocalSparkCluster, fetch_json
from tools.spark_daemons import HOST, SparkDaemons, alive, free_ports, log_tail

PROJECT_ROOT = Path(__file__).resolve().parents[1]
KEDRO_RUN_TIMEOUT_S = 300
# The class that Spark's sbin/start-connect-server.sh submits.
CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
CONNECT_START_TIMEOUT_S = 180


class ConnectServerDaemons(SparkDaemons):
    """SparkDaemons for a Spark Connect server: its driver's heap is SPARK_DAEMON_MEMORY (Spark's
    launcher treats it as a daemon), and Spark refuses a driver under 450 MiB."""

    def env(self) -> dict[str, str]:
        return super().env() | {"SPARK_DAEMON_MEMORY": "1g"}


@pytest.fixture(scope="session")
def standalone_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSparkCluster]:
    """A master and two one-core workers; each worker offers 1 GiB, conf/cluster's executor size."""
    cluster = LocalSparkCluster(
        workers=2, cores=1, memory="1g", run_dir=tmp_path_factory.mktemp("local-cluster")
    )
    with cluster:
        yield cluster


@dataclass(frozen=True)
class ConnectServer:
    remote: str  # sc://127.0.0.1:PORT
    log: Path  # the server's output (its driver's Spark log)
    pid: int  # its process group's leader (start_new_session): os.killpg(pid, ...) ends it


@contextlib.contextmanager
def connect_server(cluster: LocalSparkCluster, run_dir: Path) -> Iterator[ConnectServer]:
    """A Spark Connect server in front of `cluster`, its gRPC port and driver bound to 127.0.0.1,
    until exit, when it is stopped by its own pid (process group).

    It is the start-connect-server.sh class submitted in the foreground, with conf/cluster's
    one-core, 1 GiB executors, and the cluster's cores as the task slots its clients see.
    """
    port, ui_port = free_ports(2)
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    daemons = ConnectServerDaemons(run_dir, sys.executable)
    settings = {
        "spark.connect.grpc.binding.address": HOST,
        "spark.connect.grpc.binding.port": port,
        "spark.ui.port": ui_port,
        "spark.executor.cores": 1,
        "spark.executor.memory": cluster.memory,
        "spark.default.parallelism": cluster.workers * cluster.cores,
    }
    submit = ["org.apache.spark.deploy.SparkSubmit", "--class", CONNECT_SERVER_CLASS]
    submit += ["--master", cluster.master_url]
    submit += [item for key, value in settings.items() for item in ("--conf", f"{key}={value}")]
    server = daemons.launch("connect-server", submit, ui_port)
    try:
        deadline = time.monotonic() + CONNECT_START_TIMEOUT_S
        while True:
            assert alive(server), f"the Spark Connect server exited:\n{log_tail(server.log_path)}"
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
                break
            assert time.monotonic() < deadline, log_tail(server.log_path)
            time.sleep(0.5)
        yield ConnectServer(f"sc://{HOST}:{port}", Path(server.log_path), server.pid)
    finally:
        daemons.stop([server], timeout_s=10)


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
    """`kedro run --env cluster --pipelines tuning ARGS` against `cluster`."""
    return kedro_run(
        project_dir,
        "--env",
        "cluster",
        "--pipelines",
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


# A minimal Kedro project that uses this project's hook and spark.yml files: one node that runs
# a Spark job through the hook's session, so the test does not depend on the real pipelines. The
# node writes JSON, not a Spark dataset: its `spark` tag is what makes the hook start Spark.
PROBE_SETTINGS = """
from spark_lgbm_tuning.hooks.spark import SparkHooks
from spark_lgbm_tuning.settings import CONFIG_LOADER_ARGS, DISABLE_HOOKS_FOR_PLUGINS
from spark_lgbm_tuning.spark.session import SparkConfigError

HOOKS = (SparkHooks(executor_start_timeout_s={timeout}),)
"""
PROBE_REGISTRY = """
import os

from kedro.pipeline import Pipeline, node
from pyspark.sql import SparkSession


def count_on_executors(rows: int) -> dict:
    sc = SparkSession.getActiveSession().sparkContext
    pids = sc.parallelize(range(rows), 4).map(lambda _: os.getpid()).distinct().collect()
    return {{"master": sc.master, "app_id": sc.applicationId, "python_workers": len(pids)}}


def register_pipelines():
    return {{"__default__": Pipeline([
        node(
            count_on_executors, "params:rows", "probe_result", name="count_on_executors",
            tags=["spark"],
        )
    ])}}
"""

# Kedro's default logging shows INFO only for `kedro` and the running package (cluster_probe).
PROBE_LOGGING = """
version: 1
disable_existing_loggers: false
handlers:
  console: {class: logging.StreamHandler, stream: "ext://sys.stderr"}
root: {level: WARNING, handlers: [console]}
loggers:
  kedro: {level: INFO}
  spark_lgbm_tuning: {level: INFO}
"""


def probe_project(root: Path, executor_timeout_s: float = 120) -> Path:
    """A one-node Kedro project in `root` on this project's hook and base/cluster spark.yml."""
    package = root / "src" / "cluster_probe"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(PROBE_SETTINGS.format(timeout=executor_timeout_s))
    (package / "pipeline_registry.py").write_text(PROBE_REGISTRY.format())
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [tool.kedro]
            package_name = "cluster_probe"
            project_name = "cluster-probe"
            kedro_init_version = "1.7.0"
            source_dir = "src"
            """
        )
    )
    for env in ("base", "cluster"):
        (root / "conf" / env).mkdir(parents=True)
        shutil.copy(PROJECT_ROOT / "conf" / env / "spark.yml", root / "conf" / env / "spark.yml")
    (root / "conf" / "local").mkdir()
    (root / "conf" / "logging.yml").write_text(PROBE_LOGGING)
    (root / "conf" / "base" / "parameters.yml").write_text("rows: 40\n")
    (root / "conf" / "base" / "catalog.yml").write_text(
        "probe_result:\n  type: json.JSONDataset\n  filepath: data/probe_result.json\n"
    )
    return root
