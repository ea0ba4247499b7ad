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
"""

from __future__ import annotations

import logging
import os
import threading
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
from spark_lgbm_tuning.spark.remote import LOCAL_REMOTE, session_master

__all__ = ["ConnectJobs", "connect_slots"]

logger = logging.getLogger(__name__)


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
        self.spark.interruptTag(tag)

    def executor_watch(self) -> None:
        return None

    def deadline_watch(self, timeout_s: float, grace_s: float) -> None:
        return None

    def cluster_shape(self, records: list[dict[str, Any]]) -> tuple[int, int]:
        n_executors = max(1, len({record["executor_id"] for record in records}))
        return n_executors, self._slots
