"""SparkHooks: the one SparkSession of a run, built from conf/<env>/spark.yml."""

from __future__ import annotations

import logging
import threading

from kedro.framework.hooks import hook_impl
from pyspark import SparkConf
from pyspark.sql import SparkSession

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
