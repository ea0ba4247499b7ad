"""spark_session: the conf it builds, which nodes need Spark, the session it starts (the checks
before it: test_preflight.py)."""

from __future__ import annotations

import os
import sys

import pytest
from kedro.config import OmegaConfigLoader

from spark_lgbm_tuning.settings import CONFIG_LOADER_ARGS
from spark_lgbm_tuning.spark.executor_env import (
    ARCHIVES_KEY,
    DEFAULT_ARCHIVE,
    PYTHON_KEY,
)
from spark_lgbm_tuning.spark.preflight import check_runtime
from spark_lgbm_tuning.spark.remote import REMOTE_KEY
from spark_lgbm_tuning.spark.session import (
    SparkConfigError,
    build_spark_conf,
    executor_python,
)
from spark_lgbm_tuning.spark.spark_yml import SparkYml
from tests.cluster import run_python


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


@pytest.mark.parametrize("env", ["cluster", "shipped"])
def test_an_unset_master_names_the_env_the_user_ran(env, tmp_path):
    origin = SparkYml(env=env, project_path=tmp_path, master_file=f"conf/{env}/spark.yml")
    with pytest.raises(SparkConfigError) as error:
        build_spark_conf({"spark.master": None}, origin)
    message = str(error.value)
    assert message.endswith(f"SPARK_MASTER=spark://127.0.0.1:7077 kedro run --env {env}")
    assert f"With `--env {env}`" in message and f"conf/{env}/spark.yml" in message


def test_a_master_set_to_null_without_the_variable_is_fixed_in_its_file(tmp_path):
    origin = SparkYml(
        env="local",
        project_path=tmp_path,
        master_file="conf/local/spark.yml",
        master_from_variable=False,
    )
    with pytest.raises(SparkConfigError, match="conf/local/spark.yml sets it to null") as error:
        build_spark_conf({"spark.master": None}, origin)
    assert "SPARK_MASTER" not in str(error.value)


def test_relative_paths_of_spark_yml_are_the_projects_wherever_the_run_starts(
    tmp_path, monkeypatch, closed_master
):
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    archive = project / DEFAULT_ARCHIVE
    archive.parent.mkdir()
    archive.write_bytes(b"")
    monkeypatch.chdir(project / "notebooks")
    settings = {
        "spark.master": closed_master,
        ARCHIVES_KEY: f"{DEFAULT_ARCHIVE}#environment, hdfs://namenode/other.tar.gz#other",
        "spark.files": f"conf/extra.txt,{tmp_path}/absolute.txt",
        PYTHON_KEY: "./environment/bin/python",  # the executor's own folder: left as written
    }
    conf = build_spark_conf(settings, SparkYml(env="shipped", project_path=project))

    assert conf.get(ARCHIVES_KEY) == f"{archive}#environment,hdfs://namenode/other.tar.gz#other"
    assert conf.get("spark.files") == f"{project}/conf/extra.txt,{tmp_path}/absolute.txt"
    assert conf.get(PYTHON_KEY) == "./environment/bin/python"
    # The archive is found from the subfolder: the next check (the master) is what refuses.
    with pytest.raises(SparkConfigError, match="is unreachable"):
        check_runtime(conf)


def test_each_env_resolves_its_master(project_root, monkeypatch):
    monkeypatch.setenv("SPARK_MASTER", "spark://10.0.0.1:7077")
    masters = {}
    for env in ("base", "docker", "cluster", "shipped"):
        loader = OmegaConfigLoader(
            conf_source=str(project_root / "conf"), env=env, **CONFIG_LOADER_ARGS
        )
        masters[env] = loader["spark"]["spark.master"]
    assert masters == {
        "base": "local[*]",
        "docker": "spark://spark-master:7077",
        "cluster": "spark://10.0.0.1:7077",
        "shipped": "spark://10.0.0.1:7077",
    }


def test_the_shipped_env_runs_the_executors_on_the_packed_environment(project_root):
    loader = OmegaConfigLoader(
        conf_source=str(project_root / "conf"), env="shipped", **CONFIG_LOADER_ARGS
    )
    settings = loader["spark"]
    path, alias = settings[ARCHIVES_KEY].split("#")
    assert path == str(DEFAULT_ARCHIVE)
    assert settings[PYTHON_KEY] == f"./{alias}/bin/python"


# ------------------------------------------------------------------ Spark Connect (spark.remote)
@pytest.mark.parametrize(
    "remote", ["local", "local[2]", "local[*]", "sc://127.0.0.1:15002", "sc://h/;token=t"]
)
def test_a_connect_remote_replaces_the_master(remote):
    conf = build_spark_conf({"spark.master": None, REMOTE_KEY: remote})
    assert conf.get(REMOTE_KEY) == remote and conf.get("spark.master") is None


def test_a_bad_connect_url_is_refused_before_anything_starts():
    # The URL's checks themselves: tests/spark/test_remote.py.
    with pytest.raises(SparkConfigError, match="has no sc:// scheme"):
        build_spark_conf({"spark.master": None, REMOTE_KEY: "http://127.0.0.1:15002"})


def test_a_master_and_a_remote_together_are_refused():
    with pytest.raises(SparkConfigError, match="spark.master: null"):
        build_spark_conf({"spark.master": "local[2]", REMOTE_KEY: "local[2]"})


def test_the_connect_env_resolves_a_remote_and_no_master(project_root, monkeypatch):
    def spark_conf() -> dict:
        loader = OmegaConfigLoader(
            conf_source=str(project_root / "conf"), env="connect", **CONFIG_LOADER_ARGS
        )
        return dict(loader["spark"])

    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    assert spark_conf()["spark.master"] is None and spark_conf()[REMOTE_KEY] == "local[2]"
    monkeypatch.setenv("SPARK_REMOTE", "sc://10.0.0.1:15002")
    assert spark_conf()[REMOTE_KEY] == "sc://10.0.0.1:15002"


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
    conf = build_spark_conf({"spark.master": "local[1]", PYTHON_KEY: "/usr/bin/py"})
    assert executor_python(conf) == "/usr/bin/py"
    # A context started from Python gives its tasks PYSPARK_PYTHON, not spark.pyspark.python.
    assert os.environ["PYSPARK_PYTHON"] == "/usr/bin/py"


# ------------------------------------------------------------------ SessionStarter
# In a fresh process: the test session's own `spark` fixture would otherwise be the context.
STARTER_SCRIPT = """
import signal
from pyspark.sql import SparkSession
from spark_lgbm_tuning.spark.session import build_spark_conf
from spark_lgbm_tuning.spark.starter import SessionStarter

handler = signal.getsignal(signal.SIGINT)
conf = build_spark_conf({
    "spark.master": "local[1]", "spark.ui.enabled": False,
    "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
})
starter = SessionStarter(conf, executor_start_timeout_s=30)
spark = starter.session()
active = SparkSession.getActiveSession()
print("ACTIVE", active is not None and active.sparkContext.master, spark.range(4).count())
print("SIGINT KEPT", signal.getsignal(signal.SIGINT) is handler)
spark.stop()
"""


@pytest.mark.slow
def test_the_background_start_gives_this_thread_an_active_session():
    run = run_python(STARTER_SCRIPT)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "ACTIVE local[1] 4" in run.stdout
    assert "SIGINT KEPT True" in run.stdout


# The driver JVM's command line (PySpark's gateway, a child of this process) and what the
# context's SparkConf holds, with spark.authenticate on a local master.
SECRET_SCRIPT = """
import os, sys
from pathlib import Path
from spark_lgbm_tuning.spark.session import build_spark_conf
from spark_lgbm_tuning.spark.starter import SessionStarter

secret = sys.argv[1]
conf = build_spark_conf({
    "spark.master": "local[1]", "spark.ui.enabled": False,
    "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
    "spark.authenticate": True, "spark.authenticate.secret": secret,
})
spark = SessionStarter(conf, executor_start_timeout_s=30).session()
children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
lines = [Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\\0", b" ") for pid in children]
print("JVM", sum(b"SparkSubmit" in line for line in lines))
print("ON COMMAND LINE", any(secret.encode() in line for line in lines))
print("IN CONF", spark.sparkContext.getConf().get("spark.authenticate.secret") == secret)
print("COUNT", spark.range(5).count())
spark.stop()
"""


@pytest.mark.slow
def test_the_auth_secret_reaches_the_context_but_not_the_jvms_command_line():
    # PySpark launches the JVM with `--conf key=value` for every setting, shown by `ps`.
    run = run_python(SECRET_SCRIPT, "a-planted-secret-0123")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "JVM 1" in run.stdout
    assert "ON COMMAND LINE False" in run.stdout
    assert "IN CONF True" in run.stdout
    assert "COUNT 5" in run.stdout
    assert "a-planted-secret-0123" not in run.stdout + run.stderr
