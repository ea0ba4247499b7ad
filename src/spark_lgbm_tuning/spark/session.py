"""The run's SparkSession: its conf from conf/<env>/spark.yml and building the session (the checks
before any JVM starts: preflight.py; which nodes need it: nodes.py; its start in the background:
starter.py).

`hooks.SparkHooks` decides when; this module knows how. Nothing here runs on the executors except
the probe of `check_executor_python`.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import time
import warnings
from typing import Any

from pyspark import InheritableThread, SparkConf, SparkContext
from pyspark.errors import PySparkRuntimeError
from pyspark.java_gateway import launch_gateway
from pyspark.sql import SparkSession

from spark_lgbm_tuning.spark.executor_env import (
    ARCHIVES_KEY,
    CONNECT_PYTHON_KEY,
    PACK_COMMAND,
    PYTHON_KEY,
    archive_paths,
    executor_modules,
)
from spark_lgbm_tuning.spark.jvm_output import JvmOutput
from spark_lgbm_tuning.spark.remote import (
    LOCAL_REMOTE,
    REMOTE_KEY,
    check_remote_url,
    remote_label,
    session_master,
)
from spark_lgbm_tuning.spark.spark_yml import SparkYml, in_project, unset_master_error
from spark_lgbm_tuning.vocabulary.errors import SparkConfigError

logger = logging.getLogger(__name__)

# How long a cluster may take to give the run its first executor before the run is failed.
EXECUTOR_START_TIMEOUT_S = 120.0
PROBE_JOB_GROUP = "spark-lgbm-tuning-python-probe"
# Settings kept off the driver JVM's command line. PySpark launches the JVM with every setting of
# the conf as `--conf key=value`, which `ps` shows to every user for the whole run; these reach the
# context's SparkConf over the Py4J gateway instead (`start_context`).
LAUNCH_HIDDEN_KEYS = ("spark.authenticate.secret",)


# ------------------------------------------------------------------------------ conf
def build_spark_conf(settings: dict[str, Any], origin: SparkYml | None = None) -> SparkConf:
    """Turn the flat `spark.*` mapping of spark.yml into a SparkConf, refusing an unset master
    (unless spark.remote names a Spark Connect endpoint instead) and a refused remote URL.

    With `origin` (a run's), relative paths are the project's (`in_project`) and an unset
    master's advice names the run's env."""
    if origin is not None:
        settings = in_project(settings, origin.project_path)
    master, remote = settings.get("spark.master"), settings.get(REMOTE_KEY)
    if remote:
        if master:
            raise SparkConfigError(
                f"spark.yml sets both spark.master ({master}) and {REMOTE_KEY} "
                f"({remote_label(str(remote))}): a Spark Connect session takes its master from "
                "the server; set `spark.master: null` in the env that sets spark.remote"
            )
        check_remote_url(str(remote))
    elif not master:
        raise unset_master_error(origin)
    conf = SparkConf(loadDefaults=False)
    for key, value in settings.items():
        if value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        conf.set(key, text)
    return conf


def launch_conf(conf: SparkConf) -> SparkConf:
    """`conf` without the settings of LAUNCH_HIDDEN_KEYS: what the JVM's command line may show."""
    shown = SparkConf(loadDefaults=False)
    for key, value in conf.getAll():
        if key not in LAUNCH_HIDDEN_KEYS:
            shown.set(key, value)
    return shown


def executor_python(conf: SparkConf) -> str:
    """The Python the executors will run; PYSPARK_PYTHON defaults to this interpreter.

    PySpark ships the driver's choice to every executor, and its own default is a bare `python3`,
    which on a worker started from another environment is not our venv. spark.pyspark.python
    (the shipped environment's, conf/shipped/spark.yml) wins over PYSPARK_PYTHON, as in Spark.
    """
    configured = conf.get(PYTHON_KEY)
    if configured:
        # A context started from Python gives its tasks PYSPARK_PYTHON, not this setting
        # (spark-submit sets one from the other): a shipped ./environment/bin/python needs it.
        os.environ["PYSPARK_PYTHON"] = configured
        return configured
    return os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


# ------------------------------------------------------------------------------ the session
def existing_session() -> SparkSession | None:
    """The active or default SparkSession of this process, if any (a fixture's, a notebook's)."""
    try:
        return SparkSession.active()
    except PySparkRuntimeError:
        return None


def running_in_ipython() -> bool:
    """True inside an IPython shell or Jupyter kernel (`kedro ipython`, `kedro jupyter`)."""
    ipython = sys.modules.get("IPython")
    return ipython is not None and ipython.get_ipython() is not None


def check_executor_python(spark: SparkSession, timeout_s: float) -> list[str]:
    """Run one tiny task per core and return the distinct `major.minor executable` they ran on.

    Fails, naming the master, when no executor runs a task within `timeout_s` (no ALIVE worker,
    or none with the cores/memory asked for), when the executors' Python cannot run the
    driver's tasks (PySpark refuses a different minor version), or when it cannot import the
    executor side (the project or LightGBM & co. neither installed on the workers nor shipped).
    """
    sc = spark.sparkContext
    slices = max(sc.defaultParallelism, 1)
    outcome: dict[str, Any] = {}
    modules = executor_modules()

    def describe(_: int) -> tuple[str, str]:
        """On an executor: its Python, and why the executor side cannot be imported ('' if it can)."""
        python = f"{sys.version_info[0]}.{sys.version_info[1]} {sys.executable}"
        try:
            for module in modules:
                importlib.import_module(module)
        except ImportError as error:
            return python, f"{type(error).__name__}: {error}"
        return python, ""

    def probe() -> None:
        sc.setJobGroup(PROBE_JOB_GROUP, "Which Python the executors run", interruptOnCancel=True)
        try:
            outcome["pythons"] = (
                sc.parallelize(range(slices), slices).map(describe).distinct().collect()
            )
        except Exception as error:  # noqa: BLE001 - reported to the caller below
            outcome["error"] = error

    thread = InheritableThread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout_s)
    driver = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if thread.is_alive():
        sc.cancelJobGroup(PROBE_JOB_GROUP)
        thread.join(10)
        raise SparkConfigError(
            f"No executor of {sc.master} ran a task within {timeout_s:.0f} s. Check in the "
            "master's web UI that workers are ALIVE and that each offers at least "
            f"spark.executor.cores={sc.getConf().get('spark.executor.cores', '1')} cores and "
            f"spark.executor.memory={sc.getConf().get('spark.executor.memory', '1g')}."
        )
    if "error" in outcome:
        cause = str(outcome["error"]).strip().splitlines()
        raise SparkConfigError(
            f"Executors of {sc.master} cannot run this driver's Python {driver} "
            f"({sys.executable}): {cause[0] if cause else outcome['error']!r}. Point "
            f"PYSPARK_PYTHON or spark.pyspark.python at a Python {driver} present on the workers."
        )
    pythons = sorted({python for python, _ in outcome["pythons"]})
    mismatched = [python for python in pythons if python.split(" ")[0] != driver]
    if mismatched:
        raise SparkConfigError(
            f"Executors of {sc.master} run Python {mismatched}, the driver runs {driver}: "
            "PySpark needs the same minor version on both sides."
        )
    missing = sorted({(python, error) for python, error in outcome["pythons"] if error})
    if missing:
        python, error = missing[0]
        raise SparkConfigError(
            f"Executors of {sc.master} cannot import the project's executor code with Python "
            f"{python} ({error}): ship it with the job (`{PACK_COMMAND}`, then "
            "`kedro run --env shipped`) or install the project on every worker "
            "(docs/running.md, 'Shipping the code to the executors')."
        )
    return pythons


def start_context(conf: SparkConf, popen_kwargs: dict[str, Any] | None = None) -> SparkContext:
    """The SparkContext of `conf`, its JVM launched without the LAUNCH_HIDDEN_KEYS settings.

    `SparkContext.getOrCreate(conf)` would launch the JVM with all of them on its command line.
    Here the gateway is launched from `launch_conf(conf)` and the context is created on it with the
    whole `conf`, which PySpark copies into the JVM's SparkConf over Py4J. A JVM this process
    launched before (a stopped session's, in a notebook) is reused, as PySpark itself does.
    `popen_kwargs` (PySpark's) may redirect a new JVM's stdout and stderr (starter.py).
    """
    # PySpark has no public way to ask whether this process has a context or a gateway.
    if SparkContext._active_spark_context is not None or SparkContext._gateway is not None:
        return SparkContext.getOrCreate(conf)
    gateway = launch_gateway(launch_conf(conf), popen_kwargs=popen_kwargs)
    return SparkContext(conf=conf, gateway=gateway)


def build_session(conf: SparkConf, executor_start_timeout_s: float) -> SparkSession:
    """Start the SparkSession of `conf`; on a cluster, check that executors run our Python.

    A session whose executors cannot run a task is stopped before the error is raised.
    """
    python = executor_python(conf)
    start_context(conf)
    spark = SparkSession.builder.config(conf=conf).getOrCreate()
    sc = spark.sparkContext
    sc.setLogLevel("WARN")
    logger.info(
        "SparkSession '%s' on %s (default parallelism %d); Spark UI: %s",
        sc.appName,
        sc.master,
        sc.defaultParallelism,
        sc.uiWebUrl or "disabled (spark.ui.enabled=false)",
    )
    if sc.master.startswith("local"):
        logger.info("Executors run in the driver's Python %s", python)
        return spark
    try:
        pythons = check_executor_python(spark, executor_start_timeout_s)
    except SparkConfigError:
        spark.stop()
        raise
    logger.info("Executors of %s run Python %s", sc.master, ", ".join(pythons))
    return spark


def build_connect_session(conf: SparkConf) -> SparkSession:
    """The Spark Connect session of `conf`'s spark.remote.

    A `local[N]` remote starts a Spark Connect server in a local JVM with every setting of
    spark.yml; a `sc://` server keeps its own static settings (cores, memory, master), so only
    the session's runtime `spark.sql.*` settings are sent to it.
    """
    remote = conf.get(REMOTE_KEY)
    archives = archive_paths(conf.get(ARCHIVES_KEY))
    # The shipped environment's Python is the session's (ship_to_connect), not the server's.
    shipped = conf.get(PYTHON_KEY) if archives else None
    # The local server's Python workers read PYSPARK_PYTHON; the shipped one is set per session.
    python = (
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        if shipped
        else executor_python(conf)
    )
    local = LOCAL_REMOTE.match(remote) is not None
    settings = {
        key: value
        for key, value in conf.getAll()
        if key not in {REMOTE_KEY, "spark.master", ARCHIVES_KEY, PYTHON_KEY}
        and (local or key.startswith("spark.sql."))
    }
    # A local server's JVM, launched by pyspark in getOrCreate(), prints its errors to the
    # stderr it inherits: a pipe that keeps Spark Connect's noise after an interrupt off the
    # console (jvm_output.py). A sc:// server's output stays on its own machine.
    launching = JvmOutput().inherited_stderr() if local else contextlib.nullcontext()
    with launching, warnings.catch_warnings():
        # pyspark starts a local server with every setting, then sets them again on the
        # session and warns for each static one (CANNOT_MODIFY_CONFIG): the server has them.
        warnings.filterwarnings("ignore", "Failed to set", UserWarning)
        spark = SparkSession.builder.remote(remote).config(map=settings).getOrCreate()
    if archives:
        ship_to_connect(spark, archives, shipped)
    logger.info(
        "Spark Connect session on %s (%s)%s",
        remote_label(remote),
        session_master(spark),
        f"; executors run {shipped} of the shipped {ARCHIVES_KEY}"
        if shipped
        else f"; executors run the driver's Python {python}"
        if local
        else "",
    )
    return spark


def ship_to_connect(
    spark: SparkSession, archives: list[tuple[str, str]], python: str | None
) -> None:
    """Spark Connect has no spark.archives of its own per session: each local archive is added
    as an artifact of the session (unpacked as `alias/` in its Python workers' directory) and
    `python` becomes the session's spark.sql.execution.pyspark.python."""
    started = time.perf_counter()
    spark.addArtifacts(*(f"{path}#{alias}" for path, alias in archives), archive=True)
    if python:
        spark.conf.set(CONNECT_PYTHON_KEY, python)
    logger.info(
        "Shipped %s to the Spark Connect session in %.1f s",
        ", ".join(path for path, _ in archives),
        time.perf_counter() - started,
    )


def start_session(conf: SparkConf, executor_start_timeout_s: float) -> SparkSession:
    """The run's session: a Spark Connect one when spark.remote is set, else `build_session`."""
    if conf.get(REMOTE_KEY):
        return build_connect_session(conf)
    return build_session(conf, executor_start_timeout_s)
