"""spark.authenticate on the no-Docker cluster: a driver with the shared secret runs, one without
is refused. The secret comes from an environment variable, never a file in the repository."""

from __future__ import annotations

import json
import re
import secrets
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.cluster import KEDRO_RUN_TIMEOUT_S, flat_output, kedro_run, probe_project, subprocess_env
from tests.project_copy import copy_project
from tools.local_cluster import LocalClusterError, LocalSparkCluster

SECRET_ENV = "TEST_SPARK_AUTH_SECRET"
# The whole `kedro run`, Python and Kedro start-up included; the probe itself takes ~30 ms.
REFUSAL_WITHIN_S = 30


def test_an_unset_secret_variable_is_refused_before_anything_starts(tmp_path, monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    cluster = LocalSparkCluster(workers=0, run_dir=tmp_path, auth_secret_env=SECRET_ENV)

    with pytest.raises(LocalClusterError, match=f"--auth-secret-env {SECRET_ENV}: that env"):
        cluster.start()
    assert not (tmp_path / "state.json").exists()


@pytest.mark.cluster
@pytest.mark.slow
def test_a_driver_needs_the_clusters_secret(tmp_path, monkeypatch):
    secret = secrets.token_urlsafe(24)
    monkeypatch.setenv(SECRET_ENV, secret)
    run_dir = tmp_path / "cluster"
    with LocalSparkCluster(workers=1, run_dir=run_dir, auth_secret_env=SECRET_ENV) as cluster:
        defaults = run_dir / "conf" / "spark-defaults.conf"
        assert stat.S_IMODE(defaults.stat().st_mode) == 0o600
        assert secret not in (run_dir / "state.json").read_text()
        assert json.loads((run_dir / "state.json").read_text())["auth_secret_env"] == SECRET_ENV

        # With SPARK_AUTHENTICATE and the secret, the hook's session runs a job on the executors
        # (its Python probe) and the probe project's one Spark node completes. (data_generation
        # would not do: a run without a Spark node starts no SparkSession.)
        project = probe_project(tmp_path / "probe")
        allowed = kedro_run(
            project,
            "--env",
            "cluster",
            spark_master=cluster.master_url,
            extra_env={
                "SPARK_AUTHENTICATE": "true",
                "SPARK_AUTH_SECRET": secret,
                "KEDRO_LOGGING_CONFIG": str(project / "conf" / "logging.yml"),
            },
        )
        assert allowed.returncode == 0, flat_output(allowed)[-3000:]
        assert "Executors of " in flat_output(allowed)

        # Without it the connectivity check at context creation sees the master refuse an
        # unauthenticated RPC and names the fix, in one line (Spark itself gave up after ~70 s,
        # the cause inside WARN stack traces). The project's own `kedro run` (its cli.py).
        started = time.monotonic()
        refused = kedro_run(
            copy_project(tmp_path / "project"),
            "--env",
            "cluster",
            "--pipelines",
            "tuning",
            spark_master=cluster.master_url,
            timeout_s=REFUSAL_WITHIN_S,
        )
        elapsed_s = time.monotonic() - started
    output = flat_output(refused)
    assert refused.returncode == 1, output[-3000:]
    assert (
        f"Error: SparkConfigError: The Spark master {cluster.master_url} requires authentication "
        "(spark.authenticate): set SPARK_AUTHENTICATE=true and SPARK_AUTH_SECRET" in output
    )
    assert "Traceback" not in output and "SaslMessage" not in output
    assert elapsed_s < REFUSAL_WITHIN_S


def _ps_lines() -> list[str]:
    """Every process's full command line, as `ps` shows them to any user of this machine."""
    listing = subprocess.run(
        ["ps", "-eww", "-o", "args="], capture_output=True, text=True, check=True
    )
    return listing.stdout.splitlines()


def _files_holding(root: Path, text: str, skip: Path | None = None) -> list[str]:
    """The files under `root` (but `skip`) whose bytes contain `text`."""
    needle = text.encode()
    return [
        str(path)
        for path in root.rglob("*")
        if path.is_file() and path != skip and needle in path.read_bytes()
    ]


@pytest.mark.cluster
@pytest.mark.slow
def test_the_secret_is_on_no_command_line_log_or_artefact(tmp_path, monkeypatch):
    """A tuning and reporting run on a cluster with a secret: `ps` never shows it (PySpark puts
    every setting on the driver JVM's command line), nor does any log, output or MLflow record."""
    secret = secrets.token_urlsafe(24)
    monkeypatch.setenv(SECRET_ENV, secret)
    project = copy_project(tmp_path / "project")
    parameters_file = project / "conf/base/parameters_tuning.yml"
    parameters = yaml.safe_load(parameters_file.read_text())
    parameters["tuning"].update(
        grid={"num_leaves": [7, 15]}, num_boost_round=20, early_stopping_rounds=0
    )
    parameters_file.write_text(yaml.safe_dump(parameters, sort_keys=False))
    run_dir = tmp_path / "cluster"
    log = tmp_path / "kedro-run.log"
    seen_driver = seen_executor = False
    with LocalSparkCluster(workers=1, run_dir=run_dir, auth_secret_env=SECRET_ENV) as cluster:
        env = subprocess_env(cluster.master_url) | {
            "SPARK_AUTHENTICATE": "true",
            "SPARK_AUTH_SECRET": secret,
        }
        with log.open("w") as output:
            run = subprocess.Popen(
                [sys.executable, "-m", "kedro", "run", "--env", "cluster"]
                + ["--pipelines", "data_generation,tuning,reporting"]
                + ["--params", "data_generation.n_samples=600,data_generation.n_features=5"],
                cwd=project,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        started = time.monotonic()
        try:
            while run.poll() is None:
                assert time.monotonic() - started < KEDRO_RUN_TIMEOUT_S, "kedro run hangs"
                lines = _ps_lines()
                leaking = [line for line in lines if secret in line]
                assert not leaking, f"the secret is on a command line: {leaking[0][:300]}"
                seen_driver |= any("pyspark-shell" in line for line in lines)
                seen_executor |= any("CoarseGrainedExecutorBackend" in line for line in lines)
                time.sleep(0.3)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
        leaked = _files_holding(project, secret) + _files_holding(
            run_dir, secret, skip=run_dir / "conf" / "spark-defaults.conf"
        )
    output = log.read_text()
    assert run.returncode == 0, output[-3000:]
    # The polling saw the processes that would show it: the driver JVM and an executor.
    assert seen_driver and seen_executor
    assert (project / "data/09_tracking/mlruns.db").is_file()  # the MLflow store was written
    # reporting.refit_on auto: the refit ran on the cluster's executor, its model in the catalog.
    assert re.search(rf"Refit on executor \d+ of {re.escape(cluster.master_url)}", output)
    assert any((project / "data/06_models/refit_model.txt").rglob("refit_model.txt"))
    assert secret not in output
    assert not leaked
