"""tools/local_cluster.py, the no-Docker standalone cluster: start, registration, a job on both
workers, the CLI, stop."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import psutil
import pytest

from tests.cluster import PROJECT_ROOT, executors_per_worker, run_python
from tools.local_cluster import LocalClusterError, LocalSparkCluster, auth_secret

# The documented command line, run from the repository root.
CLI = [sys.executable, "-m", "tools.local_cluster"]

# A plain SparkSession on the cluster, as the issue specifies; prints the application id.
JOB_SCRIPT = """
import json, sys
from pyspark.sql import SparkSession

spark = (
    SparkSession.builder.master(sys.argv[1])
    .appName("local-cluster-test-job")
    .config("spark.executor.cores", "1")
    .config("spark.executor.memory", "512m")
    .config("spark.driver.host", "127.0.0.1")
    .config("spark.driver.bindAddress", "127.0.0.1")
    .config("spark.ui.enabled", "false")
    .getOrCreate()
)
sc = spark.sparkContext
# The master places one executor on each one-core worker when the app registers.
total = sc.parallelize(range(1000), 4).map(lambda x: x * x).sum()
print(json.dumps({"app_id": sc.applicationId, "total": total}))
spark.stop()
"""


def _runs(pid: int) -> bool:
    """True while `pid` is a live process; a zombie awaiting init's reaping has stopped."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_an_unset_secret_variable_names_it_and_the_fix(monkeypatch):
    monkeypatch.delenv("NO_SUCH_SECRET", raising=False)
    with pytest.raises(LocalClusterError, match="--auth-secret-env NO_SUCH_SECRET.*export"):
        auth_secret("NO_SUCH_SECRET")
    monkeypatch.setenv("NO_SUCH_SECRET", "s3cret")
    assert auth_secret("NO_SUCH_SECRET") == "s3cret"


def test_cli_help_runs_from_the_repository_root():
    cli = subprocess.run(
        [*CLI, "--help"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    assert cli.returncode == 0, cli.stderr
    assert "python -m tools.local_cluster" in cli.stdout
    assert "--workers" in cli.stdout


def test_rejects_a_cluster_without_cores():
    with pytest.raises(LocalClusterError, match="cores >= 1"):
        LocalSparkCluster(workers=1, cores=0)


def test_stop_and_status_without_a_state_file_say_so(tmp_path):
    with pytest.raises(LocalClusterError, match="No local cluster state"):
        LocalSparkCluster.from_state_file(tmp_path / "state.json")
    cli = subprocess.run(
        [*CLI, "stop", "--run-dir", tmp_path],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode == 1
    assert "No local cluster state" in cli.stderr


@pytest.mark.cluster
def test_both_workers_register(standalone_cluster):
    master = standalone_cluster.master_json()
    assert master["status"] == "ALIVE"
    assert LocalSparkCluster.alive_workers(master) == 2
    assert sorted(worker["cores"] for worker in master["workers"]) == [1, 1]
    assert (
        standalone_cluster.master_url == f"spark://127.0.0.1:{standalone_cluster.state.master_port}"
    )


@pytest.mark.cluster
def test_a_job_runs_with_an_executor_on_each_worker(standalone_cluster):
    result = run_python(JOB_SCRIPT, standalone_cluster.master_url)
    assert result.returncode == 0, result.stderr[-3000:]
    job = json.loads(result.stdout.strip().splitlines()[-1])
    assert job["total"] == sum(x * x for x in range(1000))

    apps = {app["id"]: app for app in standalone_cluster.master_json()["completedapps"]}
    assert apps[job["app_id"]]["name"] == "local-cluster-test-job"
    assert executors_per_worker(standalone_cluster, job["app_id"]) == [1, 1]


@pytest.mark.cluster
def test_cli_start_status_stop_kills_exactly_its_pids(tmp_path):
    run_dir = tmp_path / "run"
    cli = CLI
    options = ["--run-dir", str(run_dir)]
    began = time.monotonic()
    start = subprocess.run(
        [*cli, "start", "--workers", "1", "--cores", "1", "--memory", "512m", *options],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert start.returncode == 0, start.stderr
    # stdout is the master URL alone, for `export SPARK_MASTER=$(... start)`.
    master_url = start.stdout.strip()
    assert master_url.startswith("spark://127.0.0.1:")
    state = json.loads((run_dir / "state.json").read_text())
    pids = [process["pid"] for process in state["processes"]]
    try:
        assert time.monotonic() - began < 60
        status = json.loads(
            subprocess.run(
                [*cli, "status", *options],
                cwd=PROJECT_ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        assert status["master_url"] == master_url
        assert status["alive_workers"] == 1
        assert all(process["alive"] for process in status["processes"])
        again = subprocess.run(
            [*cli, "start", *options], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
        )
        assert again.returncode == 1
        assert "already running" in again.stderr
        assert (run_dir / "work" / "worker-1").is_dir()
        assert (run_dir / "logs" / "master.log").stat().st_size > 0
    finally:
        stop = subprocess.run(
            [*cli, "stop", *options],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert stop.returncode == 0, stop.stderr
    assert not [pid for pid in pids if _runs(pid)]
    assert not (run_dir / "state.json").exists()


@pytest.mark.cluster
def test_start_fails_with_the_log_when_a_worker_cannot_start(tmp_path):
    # A worker asked for more memory than the JVM can parse exits at once.
    cluster = LocalSparkCluster(
        workers=1, cores=1, memory="not-a-size", run_dir=tmp_path, startup_timeout_s=60
    )
    with pytest.raises(LocalClusterError, match="worker-1"):
        cluster.start()
    assert not cluster.running()
