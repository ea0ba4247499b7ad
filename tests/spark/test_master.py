"""spark_master: the master URL forms Spark accepts, and the probe that tells a master requiring
authentication from an open one (real standalone masters, with and without a shared secret)."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark import SparkConf

from spark_lgbm_tuning.spark.master import (
    check_master_authentication,
    check_master_url,
    driver_authenticates,
    master_requires_authentication,
)
from spark_lgbm_tuning.vocabulary.errors import ExplainedError, SparkConfigError
from tools.local_cluster import LocalSparkCluster

SECRET_ENV = "TEST_SPARK_MASTER_AUTH_SECRET"
PROBE_WITHIN_S = 5


# ------------------------------------------------------------------------------ URL forms
@pytest.mark.parametrize(
    "master",
    [
        "local",
        "local[1]",
        "local[*]",
        "local[4,2]",
        "local[*, 3]",
        "local-cluster[2, 1, 1024]",
        "spark://127.0.0.1:7077",
        "spark://h1:7077,h2:7077",
        "spark://spark-master:7077",
        "k8s://https://kubernetes.default.svc:443",
        "yarn",
    ],
)
def test_every_master_form_spark_accepts_passes(master):
    check_master_url(master, "conf/base/spark.yml")


@pytest.mark.parametrize(
    "master",
    ["foo://bar", "local[x]", "local[]", "local[2,]", "spark://", "spark://h1:7077,", "yarn-client",
     "mesos://h:5050", "local [2]", ""],
)  # fmt: skip
def test_an_unknown_master_is_refused_in_one_line_naming_the_file(master):
    with pytest.raises(SparkConfigError) as refused:
        check_master_url(master, "conf/local/spark.yml")

    message = str(refused.value)
    assert message.startswith(f"spark.master {master!r} in conf/local/spark.yml is not a Spark")
    assert "local[*]" in message and "spark://HOST:PORT" in message and "yarn" in message
    assert "\n" not in message
    assert isinstance(refused.value, ExplainedError)


# ------------------------------------------------------------------------------ driver side
def test_spark_yml_decides_whether_the_driver_authenticates(tmp_path, monkeypatch):
    (tmp_path / "spark-defaults.conf").write_text("spark.authenticate true\n")
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path))

    assert not driver_authenticates(
        SparkConf(loadDefaults=False).set("spark.authenticate", "false")
    )
    assert driver_authenticates(SparkConf(loadDefaults=False).set("spark.authenticate", "TRUE"))


def test_without_a_spark_yml_value_spark_defaults_conf_decides(tmp_path, monkeypatch):
    # The docker image writes the secret to spark-defaults.conf (docker/entrypoint.sh).
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path))
    defaults = tmp_path / "spark-defaults.conf"
    assert not driver_authenticates(SparkConf(loadDefaults=False))

    defaults.write_text("# written by the entrypoint\nspark.authenticate   true\n")
    assert driver_authenticates(SparkConf(loadDefaults=False))

    defaults.write_text("spark.authenticate=false\n")
    assert not driver_authenticates(SparkConf(loadDefaults=False))


# ------------------------------------------------------------------------------ the probe
@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts and closes every connection without a word (not Spark)."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


def test_a_server_that_is_not_spark_is_not_taken_for_an_authenticating_master(silent_server):
    assert not master_requires_authentication("127.0.0.1", silent_server, timeout_s=2)


@pytest.fixture(scope="module")
def masters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LocalSparkCluster]]:
    """Two real standalone masters without workers: one with spark.authenticate, one open."""
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv(SECRET_ENV, secrets.token_urlsafe(24))
    root = tmp_path_factory.mktemp("masters")
    secured = LocalSparkCluster(workers=0, run_dir=root / "secured", auth_secret_env=SECRET_ENV)
    open_master = LocalSparkCluster(workers=0, run_dir=root / "open")
    with secured, open_master:
        yield {"secured": secured, "open": open_master}
    monkeypatch.undo()


def _host_port(cluster: LocalSparkCluster) -> tuple[str, int]:
    host, port = cluster.master_url.removeprefix("spark://").split(":")
    return host, int(port)


@pytest.mark.cluster
def test_a_master_with_a_secret_is_told_from_an_open_one_within_seconds(masters):
    started = time.monotonic()
    assert master_requires_authentication(*_host_port(masters["secured"]))
    assert not master_requires_authentication(*_host_port(masters["open"]))
    assert time.monotonic() - started < PROBE_WITHIN_S


@pytest.mark.cluster
def test_a_driver_without_the_secret_is_told_which_settings_to_export(masters, tmp_path):
    url = masters["secured"].master_url
    no_auth = SparkConf(loadDefaults=False).set("spark.authenticate", "false")

    with pytest.raises(SparkConfigError) as refused:
        check_master_authentication(url, *_host_port(masters["secured"]), no_auth)

    assert str(refused.value).startswith(f"The Spark master {url} requires authentication")
    assert "set SPARK_AUTHENTICATE=true and SPARK_AUTH_SECRET" in str(refused.value)
    # A driver that sends a secret is not probed: its own handshake checks the secret.
    with_auth = SparkConf(loadDefaults=False).set("spark.authenticate", "true")
    check_master_authentication(url, *_host_port(masters["secured"]), with_auth)
    check_master_authentication(masters["open"].master_url, *_host_port(masters["open"]), no_auth)


@pytest.mark.cluster
def test_the_probe_leaves_no_error_in_an_open_masters_log(masters):
    log = Path(masters["open"].run_dir) / "logs" / "master.log"
    before = log.read_text(errors="replace")
    master_requires_authentication(*_host_port(masters["open"]))
    time.sleep(0.5)  # the master logs asynchronously
    added = log.read_text(errors="replace")[len(before) :]
    assert "ERROR" not in added and "Exception" not in added, added
