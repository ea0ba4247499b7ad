"""SparkHooks: the conf it builds, the ways it refuses to start, session reuse, a run on a cluster."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import textwrap
import time
from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from pyspark.sql import SparkSession

from spark_lgbm_tuning.hooks import (
    SparkConfigError,
    SparkHooks,
    build_spark_conf,
    check_java,
    check_master_reachable,
    executor_python,
)
from spark_lgbm_tuning.local_cluster import LocalSparkCluster, free_ports
from spark_lgbm_tuning.settings import CONFIG_LOADER_ARGS
from tests.cluster import flat_output, kedro_run, run_python
from tests.project_copy import copy_project

FAIL_WITHIN_S = 30


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    return copy_project(tmp_path)


@pytest.fixture
def closed_master() -> str:
    """A standalone master URL on a loopback port nothing listens on."""
    return f"spark://127.0.0.1:{free_ports(1)[0]}"


def _fake_java(directory: Path, version_line: str) -> None:
    java = directory / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)


# ------------------------------------------------------------------ build_spark_conf
def test_build_spark_conf_stringifies_values_and_drops_nulls():
    conf = build_spark_conf(
        {
            "spark.master": "local[2]",
            "spark.python.worker.reuse": True,
            "spark.task.cpus": 1,
            "spark.executor.cores": None,
        }
    )
    assert conf.get("spark.master") == "local[2]"
    assert conf.get("spark.python.worker.reuse") == "true"
    assert conf.get("spark.task.cpus") == "1"
    assert conf.get("spark.executor.cores") is None


@pytest.mark.parametrize("master", [None, ""])
def test_build_spark_conf_without_master_says_to_export_spark_master(master):
    with pytest.raises(SparkConfigError, match="export SPARK_MASTER"):
        build_spark_conf({"spark.master": master, "spark.app.name": "x"})


def test_each_env_resolves_its_master(project_root, monkeypatch):
    monkeypatch.setenv("SPARK_MASTER", "spark://10.0.0.1:7077")
    masters = {}
    for env in ("base", "docker", "cluster"):
        loader = OmegaConfigLoader(
            conf_source=str(project_root / "conf"), env=env, **CONFIG_LOADER_ARGS
        )
        masters[env] = loader["spark"]["spark.master"]
    assert masters == {
        "base": "local[*]",
        "docker": "spark://spark-master:7077",
        "cluster": "spark://10.0.0.1:7077",
    }


# ------------------------------------------------------------------ executors' Python
def test_executor_python_defaults_to_this_interpreter(monkeypatch):
    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    assert executor_python(build_spark_conf({"spark.master": "local[1]"})) == sys.executable
    assert os.environ["PYSPARK_PYTHON"] == sys.executable


def test_executor_python_keeps_an_explicit_choice(monkeypatch):
    monkeypatch.setenv("PYSPARK_PYTHON", "/opt/python3.11/bin/python")
    assert executor_python(build_spark_conf({"spark.master": "local[1]"})) == (
        "/opt/python3.11/bin/python"
    )
    conf = build_spark_conf({"spark.master": "local[1]", "spark.pyspark.python": "/usr/bin/py"})
    assert executor_python(conf) == "/usr/bin/py"


# ------------------------------------------------------------------ master reachability
def test_unreachable_master_fails_fast_naming_the_url(closed_master):
    began = time.monotonic()
    with pytest.raises(SparkConfigError) as error:
        check_master_reachable(closed_master)
    assert time.monotonic() - began < FAIL_WITHIN_S
    assert closed_master in str(error.value)


def test_local_master_needs_no_connection():
    check_master_reachable("local[*]")


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


# ------------------------------------------------------------------ session ownership
def test_hook_reuses_an_active_session_and_leaves_it_running(spark, project_copy, caplog):
    bootstrap_project(project_copy)
    hooks = SparkHooks()
    with KedroSession.create(project_path=project_copy, env="base") as session:
        context = session.load_context()
        # Kedro's logging config stops project loggers at its own handlers; listen directly.
        hooks_logger = logging.getLogger("spark_lgbm_tuning.hooks")
        hooks_logger.addHandler(caplog.handler)
        caplog.set_level("INFO", logger="spark_lgbm_tuning.hooks")
        hooks.after_context_created(context)
        hooks.before_pipeline_run()
        hooks.after_pipeline_run()
        hooks.on_pipeline_error()
        hooks_logger.removeHandler(caplog.handler)
    assert SparkSession.active() is spark
    assert spark.range(3).count() == 3
    assert "Reusing the existing SparkSession on local[2], not local[*]" in caplog.text
    assert "Stopping" not in caplog.text


# ------------------------------------------------------------------ kedro run --env cluster
@pytest.mark.slow
def test_cluster_env_without_spark_master_fails_with_the_fix(project_copy):
    run = kedro_run(project_copy, "--env", "cluster", spark_master=None)
    assert run.returncode != 0
    assert "spark.master is not set" in flat_output(run)
    assert "export SPARK_MASTER first" in flat_output(run)


@pytest.mark.slow
def test_cluster_env_with_a_dead_master_fails_within_30_s_naming_it(project_copy, closed_master):
    began = time.monotonic()
    run = kedro_run(project_copy, "--env", "cluster", spark_master=closed_master)
    elapsed = time.monotonic() - began
    assert run.returncode != 0
    assert f"Spark master {closed_master} is unreachable" in flat_output(run)
    assert elapsed < FAIL_WITHIN_S


# A minimal Kedro project that uses this project's hook and spark.yml files: one node that runs
# a Spark job through the hook's session, so the test does not depend on the real pipelines.
PROBE_SETTINGS = """
from spark_lgbm_tuning.hooks import SparkHooks
from spark_lgbm_tuning.settings import CONFIG_LOADER_ARGS

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
        node(count_on_executors, "params:rows", "probe_result", name="count_on_executors")
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


def _probe_project(root: Path, project_root: Path, executor_timeout_s: float) -> Path:
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
        shutil.copy(project_root / "conf" / env / "spark.yml", root / "conf" / env / "spark.yml")
    (root / "conf" / "local").mkdir()
    (root / "conf" / "logging.yml").write_text(PROBE_LOGGING)
    (root / "conf" / "base" / "parameters.yml").write_text("rows: 40\n")
    (root / "conf" / "base" / "catalog.yml").write_text(
        "probe_result:\n  type: json.JSONDataset\n  filepath: data/probe_result.json\n"
    )
    return root


@pytest.mark.cluster
@pytest.mark.slow
def test_kedro_run_on_the_standalone_cluster(standalone_cluster, tmp_path, project_root):
    project = _probe_project(tmp_path, project_root, executor_timeout_s=120)
    run = kedro_run(
        project,
        "--env",
        "cluster",
        spark_master=standalone_cluster.master_url,
        extra_env={"KEDRO_LOGGING_CONFIG": str(project / "conf" / "logging.yml")},
    )
    output = flat_output(run)
    assert run.returncode == 0, output[-4000:]

    result = json.loads((project / "data" / "probe_result.json").read_text())
    assert result["master"] == standalone_cluster.master_url
    assert result["python_workers"] >= 1
    # The hook logged where it runs, the executors' Python, and stopped its session.
    assert f"on {standalone_cluster.master_url}" in output
    assert "Spark UI: http://127.0.0.1:" in output
    assert f"run Python 3.{sys.version_info[1]} {sys.executable}" in output
    assert "Stopping the SparkSession" in output
    apps = {app["id"]: app for app in standalone_cluster.master_json()["completedapps"]}
    assert apps[result["app_id"]]["name"] == "spark-lgbm-tuning"
    assert apps[result["app_id"]]["state"] == "FINISHED"


@pytest.mark.cluster
@pytest.mark.slow
def test_kedro_run_fails_when_no_executor_can_start(tmp_path, project_root):
    # A master without workers: Spark would wait for resources forever; the hook gives up.
    with LocalSparkCluster(workers=0, run_dir=tmp_path / "cluster") as cluster:
        project = _probe_project(tmp_path / "project", project_root, executor_timeout_s=5)
        began = time.monotonic()
        run = kedro_run(project, "--env", "cluster", spark_master=cluster.master_url)
        elapsed = time.monotonic() - began
    output = flat_output(run)
    assert run.returncode != 0
    assert f"No executor of {cluster.master_url} ran a task within 5 s" in output
    assert elapsed < FAIL_WITHIN_S * 2


# An IPython shell that loads the project as `kedro ipython` does; prints what the hook left.
IPYTHON_SCRIPT = """
import sys
from IPython.core.interactiveshell import InteractiveShell
from pyspark.sql import SparkSession

shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "kedro.ipython")
shell.run_line_magic("reload_kedro", sys.argv[1])
spark = SparkSession.getActiveSession()
print("SESSION", spark.sparkContext.master if spark else None, spark.range(5).count() if spark else 0)
"""


@pytest.mark.slow
def test_an_ipython_kernel_gets_the_session_at_context_creation(project_copy):
    run = run_python(IPYTHON_SCRIPT, str(project_copy))
    assert run.returncode == 0, flat_output(run)[-3000:]
    assert "SESSION local[*] 5" in run.stdout
