"""JobRunner on a Spark Connect session (Spark 4 remote sessions, Databricks): DataFrame jobs.

A Connect session has no SparkContext: no RDDs, job groups, status tracker or addFile. Here each
task group is a one-row DataFrame (its TrialSpecs pickled, connect_trial.SPECS_COLUMN), run by
`mapInPandas(connect_trial.run_pandas_groups)` as one job of one task, and its rows come back as
Arrow (connect_trial.RESULT_SCHEMA). Each job carries its own tag (`addTag`, thread-local in
Connect: set in the job's thread); `interruptTag` cancels it. Fold files reach the executors with
`addArtifacts(path, file=True)`, read there with SparkFiles.get as on a classic session.

What Connect cannot tell, and so is lost: the executor list (no lost-executor warnings, the run
info's n_executors counts the executors seen in the trials' rows) and live task state (no
driver-side deadline: a trial's timeout is the executor-side TrialTimer only, which fires between
boosting rounds). The task slots are `spark.default.parallelism` of the session, else the N of a
`local[N]` server, else 1 (set spark.default.parallelism in spark.yml).

A server that dies takes the session and its jobs with it (a restarted one does not know the
session), but pyspark's client retries an unavailable server for 10 minutes or more per call,
so each job thread would wait that long, then the next job's. `ServerWatch` (the runner's
executor watch) tries the server's port every few seconds and, once it has refused connections
for SERVER_LOST_AFTER_S, stops the session without a word to the server and the search with
`SparkServerLostError`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from pyspark.sql import SparkSession

from spark_lgbm_tuning.executor.connect_trial import (
    RESULT_SCHEMA,
    SPECS_COLUMN,
    decode_row,
    encode_group,
    run_pandas_groups,
)
from spark_lgbm_tuning.executor.trial_spec import TrialSpec
from spark_lgbm_tuning.spark.remote import (
    LOCAL_REMOTE,
    START_SERVER,
    connect_endpoint,
    connection_error,
    session_master,
)
from spark_lgbm_tuning.vocabulary.errors import SparkServerLostError

__all__ = ["ConnectJobs", "ServerWatch", "connect_slots"]

logger = logging.getLogger(__name__)

# A server that refuses connections this long is taken for gone (a killed one refuses at once;
# this leaves room for a port that is briefly busy). Its port is tried at most this often, each
# try waiting at most SERVER_CONNECT_TIMEOUT_S.
SERVER_LOST_AFTER_S = 10.0
SERVER_CHECK_INTERVAL_S = 2.0
SERVER_CONNECT_TIMEOUT_S = 2.0


def connect_slots(spark: SparkSession) -> int:
    """Tasks the session runs at once: spark.default.parallelism, else the N of local[N]."""
    configured = spark.conf.get("spark.default.parallelism", None)
    if configured:
        return max(1, int(configured))
    local = LOCAL_REMOTE.match(spark.conf.get("spark.master", None) or "")
    if local is not None:
        cores = local.group(2)
        return os.cpu_count() or 1 if cores in (None, "*") else int(cores)
    logger.warning(
        "The Spark Connect session does not tell its task slots: running one trial group at a "
        "time; set spark.default.parallelism in spark.yml to the cluster's cores"
    )
    return 1


class ConnectJobs:
    """JobRunner on a Spark Connect session (see module doc)."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self.master = session_master(spark)
        self.app_id = spark.session_id
        self.task_cpus = int(spark.conf.get("spark.task.cpus", None) or 1)
        self._slots = connect_slots(spark)
        self.endpoint = connect_endpoint(spark)
        self.server_lost = False

    def slots(self) -> int:
        return max(1, self._slots // max(self.task_cpus, 1))

    def add_file(self, path: str) -> None:
        self.spark.addArtifacts(path, file=True)

    def thread(self, target: Callable[[], None], name: str) -> threading.Thread:
        return threading.Thread(target=target, name=name, daemon=True)

    def run(self, tag: str, description: str, group: list[TrialSpec]) -> list[dict[str, Any]]:
        logger.debug("Job %s: %s", tag, description)
        self.spark.addTag(tag)  # thread-local: this job only
        try:
            frame = self.spark.createDataFrame([(encode_group(group),)], f"{SPECS_COLUMN} binary")
            table = frame.mapInPandas(run_pandas_groups, RESULT_SCHEMA).toArrow()
        finally:
            self.spark.removeTag(tag)
        return [decode_row(row) for row in table.to_pylist()]

    def cancel(self, tag: str) -> None:
        if not self.server_lost:  # its jobs died with the server
            self.spark.interruptTag(tag)

    def executor_watch(self) -> ServerWatch | None:
        return None if self.endpoint is None else ServerWatch(self, *self.endpoint)

    def abandon_session(self) -> None:
        """The server is gone, and the session with it: stopped here without a word to the
        server (no release, no gRPC retries), so that nothing after the search (MLflow's end of
        run asks the active session whether it is on Databricks) waits on the dead server."""
        self.server_lost = True
        self.spark.client.set_retry_policies([])
        self.spark.release_session_on_close = False
        self.spark.stop()

    def deadline_watch(self, timeout_s: float, grace_s: float) -> None:
        return None

    def cluster_shape(self, records: list[dict[str, Any]]) -> tuple[int, int]:
        n_executors = max(1, len({record["executor_id"] for record in records}))
        return n_executors, self._slots


class ServerWatch:
    """Stops the search once the Spark Connect server of `jobs` has refused connections for
    SERVER_LOST_AFTER_S (see module doc); polled by the scheduler between its waits."""

    def __init__(self, jobs: ConnectJobs, host: str, port: int) -> None:
        self.jobs = jobs
        self.host = host
        self.port = port
        self._checked = time.monotonic()
        self._refused_since: float | None = None

    def poll(self, stats: object) -> None:
        now = time.monotonic()
        if now - self._checked < SERVER_CHECK_INTERVAL_S:
            return
        self._checked = now
        error = connection_error(self.host, self.port, SERVER_CONNECT_TIMEOUT_S)
        if error is None:
            self._refused_since = None
            return
        if self._refused_since is None:
            self._refused_since = now
            logger.warning(
                "Spark Connect server sc://%s:%d refuses connections (%s): the search stops if "
                "it still does in %.0f s",
                self.host,
                self.port,
                error,
                SERVER_LOST_AFTER_S,
            )
            return
        if now - self._refused_since < SERVER_LOST_AFTER_S:
            return
        self.jobs.abandon_session()
        raise SparkServerLostError(
            f"Spark Connect server sc://{self.host}:{self.port} is gone: it has refused "
            f"connections for {now - self._refused_since:.0f} s ({error}), and the session's "
            "Spark jobs in flight went with it. A local[N] remote starts a new server when you "
            f"rerun; for a sc:// one: {START_SERVER}, then rerun. The trials already in the "
            "trial store are reused"
        )
