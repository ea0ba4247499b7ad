"""The project's hooks, registered in settings.py; each class is one concern.

- `SparkHooks`: the SparkSession of conf/<env>/spark.yml, started only when a node of the run
  needs it (spark/session.py holds the conf, the checks and the building).
- `ReportLocationHooks`: ends a run that wrote the HTML report by logging where it is.
- `RunGuardHooks`: missing inputs fail the run before it starts; SIGINT/SIGTERM stop it cleanly.
- `RunEnvironmentHooks`: tells the report's `run_environment` dataset the run's Kedro env.
- `StoreLockHooks`: takes the lock of the run's trial stores before Spark starts.
- `SkippedConfigHooks`: warns of conf/local parameter files that a run in another env skips.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from kedro.framework.hooks import hook_impl
from pyspark import SparkConf
from pyspark.sql import SparkSession

from spark_lgbm_tuning.config_loader import ProjectConfigLoader
from spark_lgbm_tuning.datasets.run_environment import RunEnvironmentDataset
from spark_lgbm_tuning.datasets.trial_store import TrialStoreDataset
from spark_lgbm_tuning.pipelines.reporting.report import REPORT_DATASET
from spark_lgbm_tuning.run_inputs import check_inputs_exist
from spark_lgbm_tuning.spark.nodes import spark_node_names
from spark_lgbm_tuning.spark.preflight import check_runtime
from spark_lgbm_tuning.spark.remote import REMOTE_KEY, session_master
from spark_lgbm_tuning.spark.session import (
    EXECUTOR_START_TIMEOUT_S,
    build_session,
    build_spark_conf,
    existing_session,
    running_in_ipython,
    start_session,
)
from spark_lgbm_tuning.spark.spark_yml import spark_yml
from spark_lgbm_tuning.spark.starter import SessionStarter
from spark_lgbm_tuning.user_tables import check_user_tables_untouched

logger = logging.getLogger(__name__)


class SparkHooks:
    """Starts the SparkSession when the run first needs it, and stops the one it started.

    - `kedro run`: the cheap checks (master set, Java, master reachable) run in
      `after_context_created`, before the catalog and the pipelines' imports, so a bad env fails
      in seconds (the hook cannot tell there which pipeline will run). `before_pipeline_run`
      finds the nodes that need Spark (tagged `spark`, or reading or writing a Spark dataset:
      `spark.nodes.needs_spark`). When there are none (`--pipelines data_generation`,
      `--pipelines reporting`) no JVM starts at all. On a cluster the session is built there, so
      the executor probe (`check_executor_python`) also fails the run before any node. On a
      `local[...]` master the JVM starts in the background while the nodes before the first
      Spark node run (`spark/starter.py`) and the session is taken when that node
      loads its inputs. The session is stopped in `after_pipeline_run` / `on_pipeline_error`.
    - `kedro ipython` / `kedro jupyter` / `%load_ext kedro.ipython`: the session is built in
      `after_context_created` (the notebook's Spark datasets need it) and lives as long as the
      kernel.
    - `kedro viz run` never runs a pipeline, so it starts no JVM.
    A session that already exists (a test fixture, a notebook's own) is reused and never stopped.
    """

    def __init__(self, executor_start_timeout_s: float = EXECUTOR_START_TIMEOUT_S) -> None:
        self.executor_start_timeout_s = executor_start_timeout_s
        self._conf: SparkConf | None = None
        self._env: str | None = None
        self._starter: SessionStarter | None = None
        # Nodes of this run that need the session, until it is built for the first of them.
        self._waiting: set[str] = set()
        self._lock = threading.Lock()
        # Only a session built here for a pipeline run is stopped here.
        self._owned_session: SparkSession | None = None

    @hook_impl
    def after_context_created(self, context) -> None:
        self._env = context.env
        origin = spark_yml(context)
        self._conf = build_spark_conf(dict(context.config_loader["spark"]), origin)
        if self._reuse_existing():
            return
        check_runtime(self._conf, origin.master_file)
        if running_in_ipython():
            # Kept for the kernel's lifetime: `catalog.load` of a Spark dataset needs it.
            start_session(self._conf, self.executor_start_timeout_s)

    # tryfirst: the JVM starts right after RunGuardHooks' and StoreLockHooks' checks (tryfirst
    # too, registered later, so called first), before the other hooks' run start (MLflow's run).
    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, pipeline, catalog) -> None:
        if self._conf is None:
            return
        needed = spark_node_names(pipeline, catalog)
        if not needed:
            logger.info("No node of this run needs Spark: no SparkSession is started")
            return
        if self._reuse_existing():
            return
        logger.info("Starting Spark for %s", ", ".join(sorted(needed)))
        if self._conf.get(REMOTE_KEY):
            # Spark Connect (spark.remote): no SparkContext to start in the background.
            self._owned_session = start_session(self._conf, self.executor_start_timeout_s)
            return
        if not self._conf.get("spark.master").startswith("local"):
            # A cluster's failures (no executor, another Python) show only once the session
            # runs a task: build it now, so they fail the run before any node.
            self._owned_session = build_session(self._conf, self.executor_start_timeout_s)
            return
        self._starter = SessionStarter(self._conf, self.executor_start_timeout_s)
        self._waiting = needed

    @hook_impl
    def before_dataset_loaded(self, node) -> None:
        self._start_for(node)

    @hook_impl
    def before_node_run(self, node) -> None:
        self._start_for(node)

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._stop_owned_session()

    @hook_impl
    def on_pipeline_error(self) -> None:
        # A node that failed before the first Spark node (a fold with one class) is reported
        # without waiting for the JVM that is still starting.
        self._stop_owned_session(wait=False)

    def _start_for(self, node) -> None:
        """Build the session when `node` is the run's first node that needs it."""
        if node is None or node.name not in self._waiting:
            return
        with self._lock:  # ThreadRunner: two Spark nodes may start together
            if node.name not in self._waiting:
                return
            self._waiting = set()
            starter, self._starter = self._starter, None
            self._owned_session = starter.session()

    def _reuse_existing(self) -> bool:
        active = existing_session()
        if active is None:
            return False
        master = session_master(active)
        wanted = self._conf.get("spark.master") or self._conf.get(REMOTE_KEY)
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

    def _stop_owned_session(self, wait: bool = True) -> None:
        self._waiting = set()
        starter, self._starter = self._starter, None
        if starter is not None:  # the run ended before a node needed the session
            if wait:
                starter.stop()
            else:
                starter.abandon()
        spark, self._owned_session = self._owned_session, None
        if spark is None:
            return
        logger.info("Stopping the SparkSession on %s", session_master(spark))
        spark.stop()


class ReportLocationHooks:
    """Ends a run that wrote an HTML report by printing its path whole, next to a stable copy.

    `tuning_report` (and `regression.tuning_report`) is versioned: Kedro saves it under
    <filepath>/<run_id>/<file name>, where the run id is the session id, so the path is known
    without touching the dataset's internals. The newest report is also copied to
    <name>_latest.html beside that folder: one address to bookmark or open from a script.
    """

    def __init__(self) -> None:
        self._report_filepaths: dict[str, Path] = {}

    @hook_impl
    def after_context_created(self, context) -> None:
        self._report_filepaths = {
            name: Path(context.project_path, entry["filepath"])
            for name, entry in context.config_loader["catalog"].items()
            if (name == REPORT_DATASET or name.endswith(f".{REPORT_DATASET}"))
            and isinstance(entry, Mapping)
            and entry.get("filepath")
        }

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline) -> None:
        written = pipeline.all_outputs()
        for name, filepath in self._report_filepaths.items():
            if name not in written:
                continue
            report = filepath / run_params["run_id"] / filepath.name
            if not report.is_file():
                logger.warning("The run wrote '%s' but %s is missing", name, report)
                continue
            latest = filepath.with_name(f"{filepath.stem}_latest{filepath.suffix}")
            shutil.copyfile(report, latest)
            logger.info("The tuning report is at %s (latest copy: %s)", report, latest)
            # Rich's log handler folds long paths mid-word at the terminal width: the path is
            # also printed on a line of its own, whole, so that it can be copied.
            click.echo(f"Report: {latest}")


class RunGuardHooks:
    """Fails a run early on missing inputs, and makes SIGINT/SIGTERM stop it cleanly.

    - `before_pipeline_run` (first of all hooks): no dataset the pipeline writes may be the
      user's `input_table` or `scoring_table` (user_tables.py); every dataset the pipeline reads
      but does not produce must exist; the error names it and the pipeline that produces it.
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
        check_user_tables_untouched(pipeline, catalog)
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


class StoreLockHooks:
    """Takes the lock of every trial store the run reads before Spark starts; releases it after.

    A second search on a store in use is refused in Kedro's start-up time, not after the JVM's
    start and the search's expansion (38-72 s before). `run_trials` holds the same lock again
    (`store_lock.holding` is reentrant within a process). Its `before_pipeline_run` comes right
    after RunGuardHooks' (both `tryfirst`, this one registered first in settings.py: pluggy calls
    the later registered first), so a missing input is named first, and before SparkHooks'.
    """

    def __init__(self) -> None:
        self._held = contextlib.ExitStack()

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, pipeline, catalog) -> None:
        for name in sorted(pipeline.inputs()):
            if name.startswith("params:") or name == "parameters" or name not in catalog:
                continue
            dataset = catalog.get(name)
            if isinstance(dataset, TrialStoreDataset):
                self._held.enter_context(dataset.load().locked())

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._held.close()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._held.close()


class RunEnvironmentHooks:
    """Hands the run's Kedro env to the `run_environment` dataset.

    `kedro run --env X` sets no KEDRO_ENV variable, so the dataset cannot read the env itself;
    the context knows it (None: the default run env, conf/local over conf/base).
    """

    DATASET = "run_environment"

    def __init__(self) -> None:
        self._env: str | None = None

    @hook_impl
    def after_context_created(self, context) -> None:
        self._env = context.env or context.config_loader.default_run_env

    @hook_impl
    def after_catalog_created(self, catalog) -> None:
        if self.DATASET in catalog:
            dataset = catalog.get(self.DATASET)
            if isinstance(dataset, RunEnvironmentDataset):
                dataset.kedro_env = self._env


class SkippedConfigHooks:
    """Names, in one warning, the parameter files of conf/local that this run does not read.

    Kedro reads conf/base and the run's env only, so with `--env connect` (or KEDRO_ENV) a grid
    in conf/local/parameters_tuning.yml was dropped without a word. First of the context's hooks
    (`tryfirst`), so the warning comes before any check of the env that may end the run.
    """

    @hook_impl(tryfirst=True)
    def after_context_created(self, context) -> None:
        loader = context.config_loader
        if not isinstance(loader, ProjectConfigLoader):
            return
        unread = loader.unread_parameter_files()
        if not unread:
            return
        env, default = context.env, loader.default_run_env
        logger.warning(
            "%s %s parameters that the %s env does not read (a run reads conf/base and "
            "conf/%s only): move them to conf/%s/, or run with the default env (no --env or "
            "KEDRO_ENV) to read conf/%s",
            ", ".join(unread),
            "holds" if len(unread) == 1 else "hold",
            env,
            env,
            env,
            default,
        )
