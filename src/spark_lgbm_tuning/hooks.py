"""The project's one entry point to Spark: build the SparkSession from conf/<env>/spark.yml.

When the session is built:
- `kedro run`: the cheap checks (master set, Java, master reachable) run in `after_context_created`,
  so a bad env fails before the catalog is built; the JVM starts in `before_pipeline_run` and the
  session is stopped in `after_pipeline_run` / `on_pipeline_error`.
- `kedro ipython` / `kedro jupyter` / `%load_ext kedro.ipython`: the session is built in
  `after_context_created` (the notebook's Spark datasets need it) and lives as long as the kernel.
- `kedro viz run` loads the context without project hooks unless given `--include-hooks`; even
  then it never runs a pipeline, so it starts no JVM.
A session that already exists (a test fixture, a notebook's own) is reused and never stopped here.
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from kedro.framework.hooks import hook_impl
from pyspark import InheritableThread, SparkConf
from pyspark.errors import PySparkRuntimeError
from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

MIN_JAVA_MAJOR = 17
MASTER_CONNECT_TIMEOUT_S = 10.0
# How long a cluster may take to give the run its first executor before the run is failed.
EXECUTOR_START_TIMEOUT_S = 120.0
PROBE_JOB_GROUP = "spark-lgbm-tuning-python-probe"


class SparkConfigError(RuntimeError):
    """The Spark configuration or runtime cannot give a working session."""


def java_executable() -> str | None:
    """The `java` Spark's launcher will use: $JAVA_HOME/bin/java if JAVA_HOME is set, else PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        return str(candidate) if candidate.is_file() else None
    return shutil.which("java")


def check_java(min_major: int = MIN_JAVA_MAJOR) -> int:
    """Return the major version of the `java` Spark will launch, or fail with how to fix it."""
    java = java_executable()
    if java is None:
        where = (
            f"JAVA_HOME={os.environ['JAVA_HOME']} has no bin/java"
            if os.environ.get("JAVA_HOME")
            else "no `java` on PATH and JAVA_HOME is unset"
        )
        raise SparkConfigError(
            f"Java not found ({where}): Spark 4 needs Java {min_major} or newer "
            "(Debian: apt-get install openjdk-17-jre-headless)."
        )
    result = subprocess.run(
        [java, "-version"], capture_output=True, text=True, timeout=30, check=False
    )
    output = result.stderr + result.stdout
    match = re.search(r'version "(\d+)(?:\.(\d+))?', output)
    if match is None:
        raise SparkConfigError(
            f"Could not read the Java version from `{java} -version`: {output!r}"
        )
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_x" means Java 8
        major = int(match.group(2))
    if major < min_major:
        raise SparkConfigError(
            f"Java {major} found at {java}, but Spark 4 needs Java {min_major} or newer "
            "(Debian: apt-get install openjdk-17-jre-headless, or point JAVA_HOME at one)."
        )
    return major


def check_master_reachable(master: str, timeout_s: float = MASTER_CONNECT_TIMEOUT_S) -> None:
    """Fail fast, naming the URL, when a standalone master does not accept connections.

    Spark itself keeps retrying registration for minutes; a TCP connect answers in seconds.
    """
    if not master.startswith("spark://"):
        return
    unreachable = []
    for address in master.removeprefix("spark://").split(","):  # HA masters are comma-separated
        parsed = urlparse(f"spark://{address}")
        host, port = parsed.hostname, parsed.port or 7077
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return
        except OSError as error:
            unreachable.append(f"{host}:{port} ({error})")
    raise SparkConfigError(
        f"Spark master {master} is unreachable: {'; '.join(unreachable)}. Start the cluster "
        "(python -m spark_lgbm_tuning.local_cluster start) or point spark.master / "
        "SPARK_MASTER at a running one."
    )


def build_spark_conf(settings: dict[str, Any]) -> SparkConf:
    """Turn the flat `spark.*` mapping of spark.yml into a SparkConf, refusing an unset master."""
    master = settings.get("spark.master")
    if not master:
        raise SparkConfigError(
            "spark.master is not set. With `--env cluster`, export SPARK_MASTER first, e.g. "
            "SPARK_MASTER=spark://127.0.0.1:7077 kedro run --env cluster"
        )
    conf = SparkConf(loadDefaults=False)
    for key, value in settings.items():
        if value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        conf.set(key, text)
    return conf


def executor_python(conf: SparkConf) -> str:
    """The Python the executors will run; PYSPARK_PYTHON defaults to this interpreter.

    PySpark ships the driver's choice to every executor, and its own default is a bare `python3`,
    which on a worker started from another environment is not our venv.
    """
    configured = conf.get("spark.pyspark.python")
    if configured:
        return configured
    return os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


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
    or none with the cores/memory asked for) or when the executors' Python cannot run the
    driver's tasks (PySpark refuses a different minor version).
    """
    sc = spark.sparkContext
    slices = max(sc.defaultParallelism, 1)
    outcome: dict[str, Any] = {}

    def probe() -> None:
        sc.setJobGroup(PROBE_JOB_GROUP, "Which Python the executors run", interruptOnCancel=True)
        try:
            outcome["pythons"] = (
                sc.parallelize(range(slices), slices)
                .map(lambda _: f"{sys.version_info[0]}.{sys.version_info[1]} {sys.executable}")
                .distinct()
                .collect()
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
    pythons = sorted(outcome["pythons"])
    mismatched = [python for python in pythons if python.split(" ")[0] != driver]
    if mismatched:
        raise SparkConfigError(
            f"Executors of {sc.master} run Python {mismatched}, the driver runs {driver}: "
            "PySpark needs the same minor version on both sides."
        )
    return pythons


class SparkHooks:
    """Builds the run's SparkSession from the `spark` config and stops it when the run ends."""

    def __init__(self, executor_start_timeout_s: float = EXECUTOR_START_TIMEOUT_S) -> None:
        self.executor_start_timeout_s = executor_start_timeout_s
        self._conf: SparkConf | None = None
        self._env: str | None = None
        # Only a session built here for a pipeline run is stopped here.
        self._owned_session: SparkSession | None = None

    @hook_impl
    def after_context_created(self, context) -> None:
        self._env = context.env
        self._conf = build_spark_conf(dict(context.config_loader["spark"]))
        if self._reuse_existing():
            return
        check_java()
        check_master_reachable(self._conf.get("spark.master"))
        if running_in_ipython():
            # Kept for the kernel's lifetime: `catalog.load` of a Spark dataset needs it.
            self._build_session()

    @hook_impl
    def before_pipeline_run(self) -> None:
        if self._conf is None or self._reuse_existing():
            return
        self._owned_session = self._build_session()

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._stop_owned_session()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._stop_owned_session()

    def _reuse_existing(self) -> bool:
        active = existing_session()
        if active is None:
            return False
        master = active.sparkContext.master
        wanted = self._conf.get("spark.master")
        if master != wanted:
            logger.warning(
                "Reusing the existing SparkSession on %s, not %s from the %s env's spark.yml",
                master,
                wanted,
                self._env,
            )
        else:
            logger.info("Reusing the existing SparkSession on %s", master)
        return True

    def _build_session(self) -> SparkSession:
        python = executor_python(self._conf)
        spark = SparkSession.builder.config(conf=self._conf).getOrCreate()
        spark.sparkContext.setLogLevel("WARN")
        sc = spark.sparkContext
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
            pythons = check_executor_python(spark, self.executor_start_timeout_s)
        except SparkConfigError:
            spark.stop()
            raise
        logger.info("Executors of %s run Python %s", sc.master, ", ".join(pythons))
        return spark

    def _stop_owned_session(self) -> None:
        spark, self._owned_session = self._owned_session, None
        if spark is None:
            return
        logger.info("Stopping the SparkSession on %s", spark.sparkContext.master)
        spark.stop()


class ReportLocationHooks:
    """Ends a run that wrote the HTML report by logging the report's path.

    `tuning_report` is versioned: Kedro saves it under <filepath>/<run_id>/<file name>, where the
    run id is the session id, so the path is known without touching the dataset's internals.
    """

    REPORT_DATASET = "tuning_report"

    def __init__(self) -> None:
        self._report_filepath: Path | None = None

    @hook_impl
    def after_context_created(self, context) -> None:
        entry = context.config_loader["catalog"].get(self.REPORT_DATASET, {})
        filepath = entry.get("filepath")
        self._report_filepath = Path(context.project_path, filepath) if filepath else None

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline) -> None:
        if self._report_filepath is None or self.REPORT_DATASET not in pipeline.all_outputs():
            return
        report = self._report_filepath / run_params["run_id"] / self._report_filepath.name
        if report.is_file():
            logger.info("The tuning report is at %s", report)
        else:
            logger.warning("The run wrote '%s' but %s is missing", self.REPORT_DATASET, report)


class MissingInputError(RuntimeError):
    """A dataset the run reads, and no node of it writes, does not exist."""


class RunGuardHooks:
    """Fails a run early on missing inputs, and makes SIGINT/SIGTERM stop it cleanly.

    - `before_pipeline_run` (first of all hooks, so before the JVM starts): every dataset the
      pipeline reads but does not produce must exist; the error names it and the pipeline that
      produces it.
    - During the run SIGTERM (`docker stop`, a cluster manager) raises KeyboardInterrupt like
      Ctrl-C, so one path handles both: run_trials cancels its Spark jobs and keeps the finished
      trials (docs/reliability.md). While the catalog saves a dataset, the interrupt waits for the
      save to finish, so no output is left half-written; a second signal does not wait.
    Signal handlers can only be set from the main thread; elsewhere the defaults stay.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        self._saving: list[str] = []
        self._pending: int | None = None

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, pipeline, catalog) -> None:
        check_inputs_exist(pipeline, catalog)
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)

    @hook_impl
    def before_dataset_saved(self, dataset_name: str) -> None:
        self._saving.append(dataset_name)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        if dataset_name in self._saving:
            self._saving.remove(dataset_name)
        if not self._saving and self._pending is not None:
            signum, self._pending = self._pending, None
            raise KeyboardInterrupt(f"{signal.Signals(signum).name} received during the run")

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._restore()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._restore()

    def _on_signal(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self._saving and self._pending is None:
            self._pending = signum
            logger.warning(
                "%s received while saving %s: stopping once the save is complete",
                name,
                ", ".join(self._saving),
            )
            return
        logger.warning("%s received: stopping the run", name)
        raise KeyboardInterrupt(f"{name} received during the run")

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        self._saving.clear()
        self._pending = None


def _producers(dataset: str) -> list[str]:
    """Names of the project's pipeline packages that write `dataset` (transcoding ignored).

    Not `kedro.framework.project.pipelines` nor `find_pipelines`: a run loads only the pipelines
    it was asked for, and the producer is usually another one.
    """
    package = importlib.import_module(f"{__package__}.pipelines")
    base = dataset.split("@", maxsplit=1)[0]
    found = []
    for module in pkgutil.iter_modules(package.__path__):
        create = getattr(
            importlib.import_module(f"{package.__name__}.{module.name}"), "create_pipeline", None
        )
        if create is None:
            continue
        outputs = create().all_outputs()
        if any(output.split("@", maxsplit=1)[0] == base for output in outputs):
            found.append(module.name)
    return sorted(found)


def check_inputs_exist(pipeline, catalog) -> None:
    """Fail, naming the dataset and how to make it, when a free input of `pipeline` is missing."""
    for name in sorted(pipeline.inputs()):
        if name.startswith("params:") or name == "parameters" or name not in catalog:
            continue
        if catalog.exists(name):
            continue
        producers = _producers(name)
        fix = (
            f"run `kedro run --pipeline {producers[0]}` first"
            if producers
            else "create it, or point its catalog entry at existing data"
        )
        raise MissingInputError(
            f"Input dataset '{name}' does not exist ({catalog.get(name)}): {fix}."
        )
