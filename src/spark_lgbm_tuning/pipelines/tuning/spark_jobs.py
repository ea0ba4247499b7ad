"""The JobRunner of a classic session: each task group an RDD job on the SparkContext, lost
executors and overdue jobs found through its status tracker (scheduler.py drives it; a Spark
Connect session has connect_jobs.ConnectJobs instead)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from pyspark import InheritableThread, SparkContext

from spark_lgbm_tuning.executor.trial import run_spark_group
from spark_lgbm_tuning.executor.trial_spec import TrialSpec, boosting_runs
from spark_lgbm_tuning.pipelines.tuning.scheduler import Job, SearchStats

logger = logging.getLogger(__name__)


class ExecutorWatch:
    """Notices executors leaving the application (a worker killed, a host gone)."""

    def __init__(self, sc: SparkContext) -> None:
        self._sc = sc
        self._local = sc.master.startswith("local")
        self._known: dict[str, int] = self._snapshot()

    def _snapshot(self) -> dict[str, int]:
        infos = executor_infos(self._sc)
        return {f"{info.host()}:{info.port()}": int(info.numRunningTasks()) for info in infos}

    def poll(self, stats: SearchStats) -> None:
        """Log (and count in `stats`) the executors gone since the last poll."""
        if self._local:
            return
        current = self._snapshot()
        for name, tasks in self._known.items():
            if name not in current:
                stats.executors_lost.append(name)
                logger.warning(
                    "Executor %s was lost (it was running %d task(s)); Spark reruns its trials "
                    "on the remaining executors",
                    name,
                    tasks,
                )
        self._known = current


def executor_infos(sc: SparkContext) -> list[Any]:
    """The JVM's executor infos (the driver's included); none in local mode.

    PySpark's StatusTracker has no executor list; the JVM one has.
    """
    if sc.master.startswith("local"):
        return []
    return list(sc._jsc.sc().statusTracker().getExecutorInfos())


def task_cpus(sc: SparkContext) -> int:
    """spark.task.cpus: the cores (LightGBM threads) of one trial."""
    return int(sc.getConf().get("spark.task.cpus", "1"))


def task_slots(sc: SparkContext, cpus_per_task: int) -> int:
    """Tasks the cluster can run at once now (it grows as executors register)."""
    return max(1, sc.defaultParallelism // max(cpus_per_task, 1))


def _active_tasks(sc: SparkContext, job_group: str, active_stages: set[int] | None) -> int:
    """Tasks of `job_group` running now.

    With spark.ui.enabled=false Spark keeps no live task counts (numActiveTasks stays 0): pass
    the active stage ids, and a stage of the group among them counts as one task. Jobs are
    submitted only into free task slots, so a submitted job's task starts at once.
    """
    tracker = sc.statusTracker()
    active = 0
    for job_id in tracker.getJobIdsForGroup(job_group):
        info = tracker.getJobInfo(job_id)
        for stage_id in info.stageIds if info else []:
            stage = tracker.getStageInfo(stage_id)
            if stage is None:
                continue
            if active_stages is None:
                active += stage.numActiveTasks
            else:
                active += int(stage_id in active_stages)
    return active


class DeadlineWatch:
    """Finds jobs whose task has run past the trial timeout (once per boosting run of the task)
    plus the grace period.

    The clock starts when the job's task is seen running (not when it was queued), and
    restarts when Spark reruns the task after losing it.
    """

    def __init__(self, sc: SparkContext, timeout_s: float, grace_s: float) -> None:
        self.sc = sc
        self.timeout_s = timeout_s
        self.grace_s = grace_s
        self._live_task_counts = sc.getConf().get("spark.ui.enabled", "true").lower() != "false"

    def limit_s(self, group: list[TrialSpec]) -> float:
        """How long the task of `group` may run: the timeout per boosting run, plus the grace."""
        return self.timeout_s * len(boosting_runs(group)) + self.grace_s

    def message(self, group: list[TrialSpec]) -> str:
        """The error of a trial whose job the driver cancelled."""
        runs = len(boosting_runs(group))
        return (
            f"TrialTimeoutError: no result within {self.limit_s(group):.0f} s "
            f"(trial_timeout_s={self.timeout_s:g}{f' x {runs} runs' if runs > 1 else ''} plus "
            f"{self.grace_s:g} s grace); the driver cancelled its Spark job"
        )

    def overdue(self, jobs: Iterable[Job]) -> list[Job]:
        """The jobs (not cancelled yet) past their deadline now; logs each."""
        now = time.monotonic()
        stages = None
        if not self._live_task_counts:
            stages = set(self.sc.statusTracker().getActiveStageIds())
        late = []
        for job in jobs:
            if job.cancelled:
                continue
            if _active_tasks(self.sc, job.job_group, stages) == 0:
                job.running_since = None
            elif job.running_since is None:
                job.running_since = now
            elif now - job.running_since > self.limit_s(job.group):
                logger.warning(
                    "Trial(s) %s ran %.0f s, past trial_timeout_s=%g per boosting run (%d) plus "
                    "%g s grace: cancelling the Spark job",
                    ", ".join(spec.trial_id for spec in job.group),
                    now - job.running_since,
                    self.timeout_s,
                    len(boosting_runs(job.group)),
                    self.grace_s,
                )
                late.append(job)
        return late


class SparkContextJobs:
    """JobRunner on a SparkContext: each group an RDD job of one task in its own job group
    (cancelled with cancelJobGroup), executors and deadlines watched through the status
    tracker."""

    def __init__(self, sc: SparkContext) -> None:
        self.sc = sc
        self.master = sc.master
        self.app_id = sc.applicationId
        self.task_cpus = task_cpus(sc)

    def slots(self) -> int:
        return task_slots(self.sc, self.task_cpus)

    def add_file(self, path: str) -> None:
        self.sc.addFile(path)

    def thread(self, target: Callable[[], None], name: str) -> threading.Thread:
        # Inherits the driver thread's local properties (PySpark's pinned thread mode).
        return InheritableThread(target=target, name=name, daemon=True)

    def run(self, tag: str, description: str, group: list[TrialSpec]) -> list[dict[str, Any]]:
        # Local properties are per thread (PySpark's pinned thread mode): this job only.
        self.sc.setJobGroup(tag, description, interruptOnCancel=True)
        # A module function: pickled by reference, so nothing of the driver travels.
        return self.sc.parallelize([group], 1).flatMap(run_spark_group).collect()

    def cancel(self, tag: str) -> None:
        self.sc.cancelJobGroup(tag)

    def executor_watch(self) -> ExecutorWatch:
        return ExecutorWatch(self.sc)

    def deadline_watch(self, timeout_s: float, grace_s: float) -> DeadlineWatch:
        return DeadlineWatch(self.sc, timeout_s, grace_s)

    def cluster_shape(self, records: list[dict[str, Any]]) -> tuple[int, int]:
        sc = self.sc
        if sc.master.startswith("local"):
            return 1, sc.defaultParallelism
        # The JVM's list includes the driver.
        n_executors = max(
            len(executor_infos(sc)) - 1, len({record["executor_id"] for record in records})
        )
        cores = sc.getConf().get("spark.executor.cores")
        total_cores = n_executors * int(cores) if cores else sc.defaultParallelism
        return n_executors, total_cores
