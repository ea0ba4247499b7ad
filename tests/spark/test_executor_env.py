"""The executors' shipped environment: what goes in it, the archive `kedro pack-executor-env`
builds, and a search on a standalone cluster whose workers have neither the project nor LightGBM.

The cluster's daemons start from a bare environment (no venv on PATH, no PYTHONPATH) and run
WORKER_PYTHON, a Python 3.11 without this project's packages; the archive is built once per
session with its `bin/python` linked to that Python (--python-prefix), as for a real cluster
whose Python lives elsewhere than the driver's.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from spark_lgbm_tuning.spark.executor_env import (
    ARCHIVES_KEY,
    DEFAULT_ARCHIVE,
    PACK_COMMAND,
    PYTHON_KEY,
    ExecutorEnvError,
    check_archives,
    executor_imports,
    executor_requirements,
    link_python,
    pack_executor_env,
)
from spark_lgbm_tuning.vocabulary.errors import SparkConfigError
from spark_lgbm_tuning.vocabulary.statuses import OK
from tests.cluster import PROJECT_ROOT, flat_output, kedro_run
from tests.project_copy import copy_project
from tools.local_cluster import LocalSparkCluster

# A Python 3.11 with neither the project nor LightGBM (Debian's, beside the driver's pyenv one).
WORKER_PYTHON = Path("/usr/bin/python3.11")
TINY_DATA = "data_generation.n_samples=2000,data_generation.n_features=6"
QUICK_SEARCH = "tuning.num_boost_round=60"
# Where data_generation writes the search's inputs (model_input, model_folds).
INPUT_LAYERS = ("01_raw", "05_model_input")
SCORES = ["auc_roc", "logloss", "accuracy", "best_iteration"]


# ------------------------------------------------------------------ what goes in it
def test_the_requirements_are_the_executor_sides_imports_at_the_drivers_versions():
    requirements = executor_requirements()
    for distribution in ("lightgbm", "numpy", "scikit-learn", "psutil", "pandas", "pyarrow"):
        assert f"{distribution}=={importlib.metadata.version(distribution)}" in requirements
    names = {requirement.split("==")[0] for requirement in requirements}
    # Spark brings pyspark; the driver-only libraries stay out.
    assert not names & {"pyspark", "py4j", "kedro", "optuna", "mlflow", "pydantic"}


def test_only_the_project_modules_the_executor_side_imports_are_followed():
    imported = executor_imports()
    # sklearn: scoring; lightgbm: also through vocabulary.lightgbm_params.
    assert {"lightgbm", "numpy", "sklearn", "psutil", "pandas"} <= imported
    # vocabulary.columns and vocabulary.params_model import pydantic, but no executor module
    # imports them; the standard library and __future__ are not distributions.
    assert not imported & {"pydantic", "kedro", "json", "__future__", "spark_lgbm_tuning"}


def test_a_relative_python_prefix_is_refused_before_anything_is_built(tmp_path):
    with pytest.raises(ExecutorEnvError, match="not an absolute path"):
        pack_executor_env(PROJECT_ROOT, PROJECT_ROOT / "src", tmp_path / "env.tar.gz", "usr")
    assert not (tmp_path / "env.tar.gz").exists()


def test_the_venv_is_relinked_to_the_workers_python(tmp_path):
    venv = tmp_path / "environment"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python3.11").symlink_to("/opt/driver/bin/python3.11")
    (venv / "bin" / "python").symlink_to("python3.11")
    (venv / "pyvenv.cfg").write_text(
        "home = /opt/driver/bin\nversion = 3.11.7\nexecutable = /opt/driver/bin/python3.11\n"
    )
    link_python(venv, Path("/usr"))
    assert os.readlink(venv / "bin" / "python3.11") == "/usr/bin/python3.11"
    assert os.readlink(venv / "bin" / "python") == "python3.11"  # relative links stay
    assert (venv / "pyvenv.cfg").read_text().splitlines() == [
        "home = /usr/bin",
        "version = 3.11.7",
        "executable = /usr/bin/python3.11",
    ]


# ------------------------------------------------------------------ the start-up check
def test_a_missing_archive_is_refused_naming_it_and_the_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SparkConfigError) as error:
        check_archives(f"{DEFAULT_ARCHIVE}#environment")
    message = str(error.value)
    assert str(DEFAULT_ARCHIVE) in message and str(tmp_path / DEFAULT_ARCHIVE) in message
    # The absolute path: `--output` is the project's, the check looked in the current folder.
    assert f"`{PACK_COMMAND} --output {tmp_path / DEFAULT_ARCHIVE}`" in message
    with pytest.raises(SparkConfigError, match="other.zip"):
        check_archives(f"file://{tmp_path}/other.zip#env, hdfs://namenode/env.tar.gz#env")


def test_present_and_remote_archives_pass(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    DEFAULT_ARCHIVE.parent.mkdir()
    DEFAULT_ARCHIVE.write_bytes(b"")
    check_archives(f"{DEFAULT_ARCHIVE}#environment, s3a://bucket/env.tar.gz#other")
    check_archives(None)


# ------------------------------------------------------------------ the archive
@pytest.fixture(scope="session")
def executor_env_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`kedro pack-executor-env` of this checkout, bin/python linked to WORKER_PYTHON."""
    archive = tmp_path_factory.mktemp("executor-env") / "executor-env.tar.gz"
    built = subprocess.run(
        [sys.executable, "-m", "kedro", PACK_COMMAND.split()[-1], "--output", str(archive)]
        + ["--python-prefix", str(WORKER_PYTHON.parent.parent)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert built.returncode == 0, flat_output(built)[-3000:]
    assert f"{archive}: " in built.stdout
    return archive


@pytest.mark.slow
def test_the_archive_holds_the_executor_side_and_links_the_workers_python(
    executor_env_archive,
):
    with tarfile.open(executor_env_archive) as archive:
        members = {member.name: member for member in archive.getmembers()}
    site = "lib/python3.11/site-packages"
    for path in ("lightgbm/__init__.py", "sklearn/__init__.py", "pyarrow/__init__.py"):
        assert f"{site}/{path}" in members
    assert f"{site}/spark_lgbm_tuning/executor/trial.py" in members
    assert not any(name.startswith((f"{site}/kedro/", f"{site}/pyspark/")) for name in members)
    assert not any("/tests/" in name for name in members)
    assert members["bin/python3.11"].linkname == str(WORKER_PYTHON)
    # Not the project's tree: the wheel is built from a copy.
    assert not (PROJECT_ROOT / "build").exists()


# ------------------------------------------------------------------ on a bare cluster
def bare_environment() -> dict[str, str]:
    """What a worker of a shared cluster has: system paths only, no venv, no PYTHONPATH."""
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
    if os.environ.get("JAVA_HOME"):
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    return env


@pytest.fixture(scope="module")
def bare_cluster(tmp_path_factory) -> Iterator[LocalSparkCluster]:
    """Two one-core workers started from `bare_environment`, their executors on WORKER_PYTHON."""
    missing = subprocess.run(
        [str(WORKER_PYTHON), "-c", "import lightgbm"], capture_output=True, check=False
    )
    assert missing.returncode != 0, f"{WORKER_PYTHON} has lightgbm: not a bare worker"
    cluster = LocalSparkCluster(
        workers=2,
        cores=1,
        memory="1g",
        run_dir=tmp_path_factory.mktemp("bare-cluster"),
        python=str(WORKER_PYTHON),
        base_env=bare_environment(),
    )
    with cluster:
        yield cluster


def _search_results(project: Path) -> pd.DataFrame:
    results = pd.read_parquet(project / "data/07_model_output/tuning_results.parquet")
    return results.sort_values("trial_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def embedded_search(tmp_path_factory) -> Path:
    """A project copy with generated data and the search run on the embedded local[*] Spark."""
    project = copy_project(tmp_path_factory.mktemp("embedded"))
    generated = kedro_run(project, "--pipelines", "data_generation", "--params", TINY_DATA)
    assert generated.returncode == 0, flat_output(generated)[-3000:]
    searched = kedro_run(project, "--pipelines", "tuning", "--params", QUICK_SEARCH)
    assert searched.returncode == 0, flat_output(searched)[-3000:]
    return project


def project_on_the_same_data(destination: Path, embedded: Path, archive: Path) -> Path:
    """A project copy with `embedded`'s search inputs (not its trial store, which a run would
    resume from) and `archive` where conf/shipped/spark.yml's spark.archives names it."""
    project = copy_project(destination)
    for layer in INPUT_LAYERS:
        shutil.copytree(embedded / "data" / layer, project / "data" / layer, dirs_exist_ok=True)
    (project / DEFAULT_ARCHIVE).parent.mkdir()
    (project / DEFAULT_ARCHIVE).symlink_to(archive)
    return project


def assert_same_search(project: Path, embedded: Path) -> pd.DataFrame:
    """Every trial ok, with the embedded run's trials and scores; returns the results."""
    results, expected = _search_results(project), _search_results(embedded)
    assert (results["status"] == OK).all()
    assert list(results["trial_id"]) == list(expected["trial_id"])
    pd.testing.assert_frame_equal(results[SCORES], expected[SCORES])
    return results


@pytest.mark.cluster
@pytest.mark.slow
def test_a_cluster_without_the_project_runs_the_search_from_the_shipped_environment(
    bare_cluster, executor_env_archive, embedded_search, tmp_path
):
    master = bare_cluster.master_url
    project = project_on_the_same_data(tmp_path / "shipped", embedded_search, tmp_path / "none")

    # Without the archive the workers' Python cannot import the executor side: refused before
    # any node, naming the fix.
    bare = kedro_run(
        project,
        *("--env", "cluster", "--pipelines", "tuning"),
        spark_master=master,
        extra_env={"PYSPARK_PYTHON": str(WORKER_PYTHON)},
    )
    output = flat_output(bare)
    assert bare.returncode != 0
    assert "cannot import the project's executor code" in output, output[-3000:]
    assert "No module named" in output and PACK_COMMAND in output

    # The shipped env, its archive not built (a dangling link): refused before the JVM starts.
    unbuilt = kedro_run(project, "--env", "shipped", "--pipelines", "tuning", spark_master=master)
    assert unbuilt.returncode != 0
    # The pack command names the archive by its absolute path: the project's, wherever it runs.
    archive = re.escape(str(DEFAULT_ARCHIVE))
    assert re.search(rf"{PACK_COMMAND} --output /\S*/{archive}", flat_output(unbuilt))

    (project / DEFAULT_ARCHIVE).unlink()
    (project / DEFAULT_ARCHIVE).symlink_to(executor_env_archive)
    shipped = kedro_run(
        project,
        *("--env", "shipped", "--pipelines", "tuning", "--params", QUICK_SEARCH),
        spark_master=master,
    )
    output = flat_output(shipped)
    assert shipped.returncode == 0, output[-4000:]
    # The probe's report: the executors ran the archive's python, unpacked in their work dirs.
    work = re.escape(str(bare_cluster.run_dir / "work"))
    assert re.search(rf"{master} run Python 3\.11 {work}/\S+/environment/bin/python", output), (
        output[-4000:]
    )
    results = assert_same_search(project, embedded_search)
    assert set(results["executor_id"]) == {"0", "1"}


@pytest.mark.slow
def test_spark_connect_ships_the_archive_as_a_session_artifact(
    executor_env_archive, embedded_search, tmp_path
):
    project = project_on_the_same_data(tmp_path / "connect", embedded_search, executor_env_archive)
    # The env's spark.yml plus the two settings docs/running.md says to add to any env.
    shipped = (project / "conf" / "shipped" / "spark.yml").read_text()
    shipping = [
        line for line in shipped.splitlines() if line.startswith((ARCHIVES_KEY, PYTHON_KEY))
    ]
    with (project / "conf" / "connect" / "spark.yml").open("a") as spark_yml:
        spark_yml.write("\n".join(["", *shipping, ""]))
    # The local server's own Python workers would run WORKER_PYTHON (no pandas, no LightGBM):
    # only the session's spark.sql.execution.pyspark.python, into the artifact, can run a trial.
    run = kedro_run(
        project,
        *("--env", "connect", "--pipelines", "tuning", "--params", QUICK_SEARCH),
        extra_env={"PYSPARK_PYTHON": str(WORKER_PYTHON), "SPARK_REMOTE": "local[2]"},
    )
    output = flat_output(run)
    assert run.returncode == 0, output[-4000:]
    shipped_line = rf"Shipped /\S*/{re.escape(str(DEFAULT_ARCHIVE))} to the Spark Connect session"
    assert re.search(shipped_line, output), output[-4000:]
    assert_same_search(project, embedded_search)
