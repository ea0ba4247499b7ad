"""preflight: the checks that refuse a bad env in seconds, before any JVM starts."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from spark_lgbm_tuning.spark.executor_env import ARCHIVES_KEY, DEFAULT_ARCHIVE, PACK_COMMAND
from spark_lgbm_tuning.spark.preflight import check_java, check_master_reachable, check_runtime
from spark_lgbm_tuning.spark.remote import REMOTE_KEY
from spark_lgbm_tuning.spark.session import build_spark_conf
from spark_lgbm_tuning.vocabulary.errors import SparkConfigError
from tools.local_cluster import free_ports

FAIL_WITHIN_S = 30


def _fake_java(directory: Path, version_line: str) -> None:
    java = directory / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)


# ------------------------------------------------------------------ build_spark_conf


def test_a_missing_archive_is_refused_before_the_jvm_starts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    conf = build_spark_conf(
        {"spark.master": "spark://127.0.0.1:1", ARCHIVES_KEY: f"{DEFAULT_ARCHIVE}#environment"}
    )
    # Before the master's reachability (nothing listens on port 1) and Java.
    with pytest.raises(SparkConfigError, match=PACK_COMMAND):
        check_runtime(conf)


def test_the_runtime_check_dials_the_connect_server():
    remote = f"sc://127.0.0.1:{free_ports(1)[0]}"
    with pytest.raises(SparkConfigError, match="is unreachable"):
        check_runtime(build_spark_conf({"spark.master": None, REMOTE_KEY: remote}))


# ------------------------------------------------------------------ master reachability
def test_unreachable_master_fails_fast_naming_the_url(closed_master):
    began = time.monotonic()
    with pytest.raises(SparkConfigError) as error:
        check_master_reachable(closed_master)
    assert time.monotonic() - began < FAIL_WITHIN_S
    assert closed_master in str(error.value)


def test_a_listening_master_passes_and_only_standalone_masters_are_dialled(monkeypatch):
    with socket.create_server(("127.0.0.1", 0)) as server:
        check_master_reachable(f"spark://127.0.0.1:{server.getsockname()[1]}")

    dialled = []
    monkeypatch.setattr(
        socket, "create_connection", lambda address, timeout: dialled.append(address)
    )
    for master in ("local[*]", "local[2]", "yarn"):
        check_master_reachable(master)
    assert dialled == []


def test_ha_masters_pass_when_any_one_answers(closed_master):
    with socket.create_server(("127.0.0.1", 0)) as server:
        alive = f"127.0.0.1:{server.getsockname()[1]}"
        check_master_reachable(f"{closed_master},{alive}")


# ------------------------------------------------------------------ Java
def test_java_missing_is_explained(tmp_path, monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SparkConfigError, match="Java not found.*Java 17 or newer"):
        check_java()


def test_java_home_without_java_is_explained(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(SparkConfigError, match=f"JAVA_HOME={tmp_path} has no bin/java"):
        check_java()


@pytest.mark.parametrize(
    ("version_line", "major"),
    [('java version "1.8.0_392"', 8), ('openjdk version "11.0.21" 2023-10-17', 11)],
)
def test_java_too_old_is_explained(tmp_path, monkeypatch, version_line, major):
    _fake_java(tmp_path, version_line)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SparkConfigError, match=f"Java {major} found.*needs Java 17"):
        check_java()


def test_installed_java_is_accepted():
    assert check_java() >= 17
