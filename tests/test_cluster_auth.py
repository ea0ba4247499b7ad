"""spark.authenticate on the no-Docker cluster: a driver with the shared secret runs, one without
is refused. The secret comes from an environment variable, never a file in the repository."""

from __future__ import annotations

import json
import secrets
import stat
import time

import pytest

from tests.cluster import flat_output, kedro_run, probe_project
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
