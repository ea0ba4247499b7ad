"""hooks/spark.py: SparkHooks (Spark only when a node needs it, reuse, a run on a cluster,
IPython). spark/session.py's checks are tested in tests/spark/test_session.py."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline
from pyspark.sql import SparkSession

from spark_lgbm_tuning.hooks import spark as hook_module
from spark_lgbm_tuning.hooks.spark import SparkHooks
from spark_lgbm_tuning.pipelines import data_generation, reporting, tuning
from spark_lgbm_tuning.settings import CONFIG_LOADER_ARGS
from spark_lgbm_tuning.spark.session import SparkConfigError
from tests.cluster import flat_output, kedro_run, probe_project, run_python
from tests.project_copy import copy_project
from tools.local_cluster import LocalSparkCluster, free_ports

FAIL_WITHIN_S = 30


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    return copy_project(tmp_path)


@pytest.fixture
def closed_master() -> str:
    """A standalone master URL on a loopback port nothing listens on."""
    return f"spark://127.0.0.1:{free_ports(1)[0]}"


def _identity(value):
    return value


class _ConfigLoader(dict):
    """A config loader's mapping, and where it reads conf from (no spark.yml there: base's)."""

    conf_source = "no-conf-here"
    base_env = "base"
    default_run_env = "local"


def _context(spark_settings: dict, env: str = "base") -> SimpleNamespace:
    """What SparkHooks.after_context_created reads of a KedroContext."""
    return SimpleNamespace(
        env=env, config_loader=_ConfigLoader(spark=spark_settings), project_path=Path("project")
    )


@pytest.fixture(scope="module")
def project_catalog(project_root) -> DataCatalog:
    loader = OmegaConfigLoader(
        conf_source=str(project_root / "conf"), env="base", **CONFIG_LOADER_ARGS
    )
    return DataCatalog.from_config(loader["catalog"])


@pytest.fixture
def starts(monkeypatch) -> list[str]:
    """Records each check SparkHooks runs and each JVM start, session and stop; no JVM starts."""
    events: list[str] = []

    class FakeSession:
        sparkContext = SimpleNamespace(master="local[*]")

        def stop(self) -> None:
            events.append("stop")

    class FakeStarter:
        def __init__(self, conf, executor_start_timeout_s: float) -> None:
            events.append(f"start {conf.get('spark.master')}")

        def session(self) -> FakeSession:
            events.append("session")
            return FakeSession()

        def stop(self) -> None:
            events.append("stop unused")

        def abandon(self) -> None:
            events.append("abandon unused")

    monkeypatch.setattr(hook_module, "existing_session", lambda: None)
    monkeypatch.setattr(hook_module, "check_runtime", lambda conf, source: events.append("checks"))
    monkeypatch.setattr(hook_module, "SessionStarter", FakeStarter)
    monkeypatch.setattr(
        hook_module,
        "build_session",
        lambda conf, timeout_s: events.append(f"build {conf.get('spark.master')}") or FakeSession(),
    )
    return events


def _run_hooks(spark_hooks: SparkHooks, pipeline: Pipeline, catalog, events: list[str]) -> None:
    """Call the hooks in the order a SequentialRunner does, noting each node as it starts."""
    spark_hooks.before_pipeline_run(pipeline, catalog)
    for node in pipeline.nodes:  # topologically sorted
        for _input in node.inputs:
            spark_hooks.before_dataset_loaded(node)
        spark_hooks.before_node_run(node)
        events.append(f"ran {node.name}")
    spark_hooks.after_pipeline_run()


# ------------------------------------------------------------------ lazy start
@pytest.mark.parametrize(
    "create_pipeline", [data_generation.create_pipeline, reporting.create_pipeline]
)
def test_a_run_without_spark_nodes_starts_nothing(create_pipeline, project_catalog, starts):
    spark_hooks = SparkHooks()
    spark_hooks.after_context_created(_context({"spark.master": "spark://10.0.0.1:7077"}))
    _run_hooks(spark_hooks, create_pipeline(), project_catalog, starts)
    # Only the cheap checks of context creation, which cannot know the pipeline yet.
    assert [event for event in starts if not event.startswith("ran ")] == ["checks"]


def _tuning_run(master: str, project_catalog, starts: list[str]) -> list[str]:
    """The events of the tuning pipeline run through SparkHooks with `master`."""
    spark_hooks = SparkHooks()
    spark_hooks.after_context_created(_context({"spark.master": master}))
    _run_hooks(spark_hooks, tuning.create_pipeline(), project_catalog, starts)
    return starts


def test_the_search_starts_spark_just_before_run_trials_and_stops_it(project_catalog, starts):
    # The JVM starts as the run starts; the session is taken just before run_trials needs it.
    assert _tuning_run("local[2]", project_catalog, starts) == [
        "checks",
        "start local[2]",
        "ran expand_search_space",
        "session",
        "ran run_trials",
        "stop",
    ]


def test_on_a_cluster_the_session_and_its_executor_probe_come_before_any_node(
    project_catalog, starts
):
    assert _tuning_run("spark://10.0.0.1:7077", project_catalog, starts) == [
        "checks",
        "build spark://10.0.0.1:7077",
        "ran expand_search_space",
        "ran run_trials",
        "stop",
    ]


def test_a_node_tagged_spark_gets_the_session_without_spark_datasets(starts):
    spark_hooks = SparkHooks()
    spark_hooks.after_context_created(_context({"spark.master": "local[1]"}))
    pipeline = Pipeline(
        [
            Node(_identity, "a", "b", name="plain"),
            Node(_identity, "b", "c", name="uses_spark", tags=["spark"]),
        ]
    )
    _run_hooks(spark_hooks, pipeline, DataCatalog({"a": MemoryDataset(1)}), starts)
    assert starts == ["checks", "start local[1]", "ran plain", "session", "ran uses_spark", "stop"]


def _started_run_of_one_spark_node(master: str) -> tuple[SparkHooks, Node]:
    """SparkHooks after the start of a run of one node tagged `spark`, on `master`."""
    spark_hooks = SparkHooks()
    spark_hooks.after_context_created(_context({"spark.master": master}))
    node = Node(_identity, "a", "b", name="uses_spark", tags=["spark"])
    spark_hooks.before_pipeline_run(Pipeline([node]), DataCatalog({"a": MemoryDataset(1)}))
    return spark_hooks, node


def test_a_failed_run_stops_the_session_it_started(starts):
    spark_hooks, node = _started_run_of_one_spark_node("local[1]")
    spark_hooks.before_node_run(node)
    spark_hooks.on_pipeline_error()
    spark_hooks.on_pipeline_error()
    assert starts == ["checks", "start local[1]", "session", "stop"]


def test_a_run_that_fails_before_its_spark_node_abandons_the_starting_jvm(starts):
    # Not `stop`, which waits for the JVM to come up: the error is reported at once.
    spark_hooks, node = _started_run_of_one_spark_node("local[1]")
    spark_hooks.on_pipeline_error()
    spark_hooks.before_node_run(node)  # a late call after the run ended builds nothing
    assert starts == ["checks", "start local[1]", "abandon unused"]


def test_an_unset_master_fails_at_context_creation(starts):
    with pytest.raises(SparkConfigError, match="export SPARK_MASTER"):
        SparkHooks().after_context_created(_context({"spark.master": None}, env="cluster"))
    assert starts == []


@pytest.mark.slow
def test_kedro_run_of_data_generation_starts_no_spark(project_copy, monkeypatch):
    # Also settings.py's warning filters: Kedro 1.7's config loader calls OmegaConf's deprecated
    # register_new_resolver(); unfiltered, each start prints its UserWarning (~36 lines).
    monkeypatch.delenv("PYTHONWARNINGS", raising=False)
    generation = kedro_run(
        project_copy,
        "--pipelines",
        "data_generation",
        "--params",
        "data_generation.n_samples=300,data_generation.n_features=4",
    )
    output = flat_output(generation)
    assert generation.returncode == 0, output[-3000:]
    assert "No node of this run needs Spark: no SparkSession is started" in output
    assert "SparkSession 'spark-lgbm-tuning' on" not in output
    assert "Stopping the SparkSession" not in output
    assert "register_new_resolver" not in output
    assert "UserWarning" not in output


@pytest.mark.slow
def test_kedro_run_without_java_fails_before_any_node(project_copy, tmp_path):
    run = kedro_run(project_copy, extra_env={"JAVA_HOME": str(tmp_path / "no-java")})
    output = flat_output(run)
    assert run.returncode != 0
    assert f"JAVA_HOME={tmp_path / 'no-java'} has no bin/java" in output
    assert "Running node" not in output


# ------------------------------------------------------------------ session ownership
def test_hook_reuses_an_active_session_and_leaves_it_running(spark, caplog):
    # Kedro's logging config may stop project loggers at its own handlers; listen directly.
    hooks_logger = logging.getLogger("spark_lgbm_tuning.hooks.spark")
    hooks_logger.addHandler(caplog.handler)
    caplog.set_level("INFO", logger="spark_lgbm_tuning.hooks.spark")
    try:
        spark_hooks, node = _started_run_of_one_spark_node("local[*]")
        spark_hooks.before_node_run(node)
        spark_hooks.after_pipeline_run()
        spark_hooks.on_pipeline_error()
    finally:
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
def test_shipped_env_without_spark_master_names_its_own_command(project_copy):
    # Before: "With `--env cluster` … kedro run --env cluster", which drops the shipped archive.
    run = kedro_run(project_copy, "--env", "shipped", spark_master=None)
    output = flat_output(run)
    assert run.returncode != 0
    assert (
        "conf/shipped/spark.yml reads it from SPARK_MASTER, which is unset. With `--env shipped`, "
        "export SPARK_MASTER first, e.g. SPARK_MASTER=spark://127.0.0.1:7077 kedro run --env "
        "shipped"
    ) in output
    assert "--env cluster" not in output


@pytest.mark.slow
def test_a_run_from_a_subfolder_finds_the_projects_archive_and_its_advice_builds_it_there(
    project_copy, closed_master
):
    """spark.archives is the project's wherever `kedro run` starts, and the refusal's command
    writes the archive where the check looks (`kedro pack-executor-env --output X` writes the
    project's X: cli.py joins it to the project's path)."""
    subfolder = project_copy / "data"
    refused = kedro_run(subfolder, "--env", "shipped", spark_master=closed_master)
    output = flat_output(refused)
    assert refused.returncode != 0
    archive = project_copy / "dist" / "executor-env.tar.gz"
    assert f"spark.archives names {archive}, which does not exist" in output
    command = re.search(r"`kedro pack-executor-env --output (\S+)`", output)
    assert command is not None, output
    built = project_copy / command.group(1)  # what the advised command writes
    built.parent.mkdir(parents=True, exist_ok=True)
    built.write_bytes(b"")  # the check wants a file; the master is refused next

    rerun = kedro_run(subfolder, "--env", "shipped", spark_master=closed_master)
    output = flat_output(rerun)
    assert rerun.returncode != 0
    assert "spark.archives" not in output
    assert f"Spark master {closed_master} is unreachable" in output


@pytest.mark.slow
def test_cluster_env_with_a_dead_master_fails_within_30_s_naming_it(project_copy, closed_master):
    began = time.monotonic()
    run = kedro_run(project_copy, "--env", "cluster", spark_master=closed_master)
    elapsed = time.monotonic() - began
    assert run.returncode != 0
    assert f"Spark master {closed_master} is unreachable" in flat_output(run)
    assert elapsed < FAIL_WITHIN_S


@pytest.mark.cluster
@pytest.mark.slow
def test_kedro_run_on_the_standalone_cluster(standalone_cluster, tmp_path, project_root):
    project = probe_project(tmp_path, executor_timeout_s=120)
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
        project = probe_project(tmp_path / "project", executor_timeout_s=5)
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
