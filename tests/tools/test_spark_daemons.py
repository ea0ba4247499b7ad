"""tools/spark_daemons.py: ports, the daemons' environment and secret file, recognising a pid."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tools.spark_daemons import (
    ProcessInfo,
    SparkDaemons,
    alive,
    free_ports,
    spark_home,
    write_auth_defaults,
)


def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(5)
    assert len(set(ports)) == 5
    assert all(1024 < port < 65536 for port in ports)


def test_spark_home_ships_the_daemon_launcher():
    assert (spark_home() / "bin" / "spark-class").is_file()


def test_the_daemons_run_this_python_without_the_drivers_spark_master(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARK_MASTER", "spark://127.0.0.1:7077")
    monkeypatch.setenv("SPARK_MASTER_OPTS", "-Dx=1")
    env = SparkDaemons(tmp_path, "/opt/py/bin/python", conf_dir=tmp_path / "conf").env()
    assert "SPARK_MASTER" not in env
    assert env["PYSPARK_PYTHON"] == "/opt/py/bin/python"
    assert env["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert env["SPARK_MASTER_OPTS"] == "-Dx=1 -Dspark.master.rest.enabled=false"
    assert env["SPARK_CONF_DIR"] == str(tmp_path / "conf")
    assert "SPARK_CONF_DIR" not in SparkDaemons(tmp_path, sys.executable).env()


def test_daemons_given_a_base_environment_start_from_it_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/somewhere/src")
    env = SparkDaemons(tmp_path, "/usr/bin/python3.11", base_env={"PATH": "/usr/bin"}).env()
    assert "PYTHONPATH" not in env and env["PATH"] == "/usr/bin"
    assert env["PYSPARK_PYTHON"] == "/usr/bin/python3.11"
    assert SparkDaemons(tmp_path, sys.executable).env()["PYTHONPATH"] == "/somewhere/src"


def test_the_secret_file_is_readable_by_its_owner_only(tmp_path):
    write_auth_defaults(tmp_path / "conf", "s3cret")
    defaults = tmp_path / "conf" / "spark-defaults.conf"
    assert stat.S_IMODE(defaults.stat().st_mode) == 0o600
    assert "spark.authenticate.secret s3cret" in defaults.read_text()


def test_a_reused_pid_is_not_our_daemon(tmp_path: Path):
    daemons = SparkDaemons(tmp_path, sys.executable)
    (tmp_path / "logs").mkdir()
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        created = psutil.Process(sleeper.pid).create_time()
        ours = ProcessInfo("worker-1", sleeper.pid, created, str(tmp_path / "log"), 0)
        reused = ProcessInfo("worker-1", sleeper.pid, created - 3600, str(tmp_path / "log"), 0)
        assert alive(ours)
        assert not alive(reused)
        # stop() leaves a process it does not recognise alone.
        assert daemons.stop([reused], timeout_s=0.5) == []
        assert sleeper.poll() is None
        began = time.monotonic()
        assert daemons.stop([ours], timeout_s=5) == []
        assert time.monotonic() - began < 5
        assert sleeper.wait(timeout=5) == -15  # SIGTERM
    finally:
        sleeper.kill()
        sleeper.wait()
