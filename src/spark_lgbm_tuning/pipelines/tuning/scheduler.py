"""Driver side of a search: one Spark job per task group, results handed over as each job ends.

A single `collect()` of every trial would bring nothing back until the last trial ended, so an
interrupt or a driver crash would lose the whole search. Here each group of trials (see
`tasks.plan_tasks`: one boosting run's trials, or a pack of short runs of one fold) is its own
Spark job, submitted from a driver
thread while fewer jobs than task slots are in flight, in the planned (longest-first) order. Each
job's rows go to `on_rows` as soon as it returns, so an interrupt loses at most the jobs in
flight. A `prepare` callback readies each group just before it is submitted (the tuning node
uses it to wait for the group's fold, binned in the background). A `JobRunner` runs each job:
`SparkContextJobs` here (RDD jobs, the points below), or connect_jobs.ConnectJobs on a Spark
Connect session (DataFrame jobs; no executor list nor driver-side deadline there).

- Spark retries a task lost with its executor; a job still returns one result per trial, so a
  retry cannot duplicate a trial. A lost executor is logged (the status tracker's executor list
  shrinks).
- Each job has its own job group: a job that runs past the trial timeout plus a grace period
  (the executor-side LightGBM callback did not stop it, e.g. one endless boosting round; a pack's
  deadline counts the timeout once per boosting run in it) is cancelled with `cancelJobGroup` and its trials recorded as timed out.
- KeyboardInterrupt (Ctrl-C, or SIGTERM turned into it by the project's hook) cancels the jobs in
  flight, hands over results that already arrived, and re-raises.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pyspark import InheritableThread, SparkContext

from spark_lgbm_tuning.executor.trial import TrialSpec, boosting_runs, new_row, run_spark_group
from spark_lgbm_tuning.vocabulary.statuses import FAILED, TIMED_OUT

logger = logging.getLogger(__name__)

POLL_S = 0.25
# How long past the trial timeout the driver waits for the executor's own timeout to answer
# before it cancels the job: the LightGBM callback only fires between boosting rounds.
CANCEL_GRACE_S = 30.0
# How long an interrupted search waits for its cancelled jobs' threads to end.
CANCEL_JOIN_S = 10.0

# Called with a task group before it is submitted: returns the group ready to run (e.g. with its
# fold's shipped files) and result rows for trials that cannot run (an empty group is skipped).
PrepareCallback = Callable[[list[TrialSpec]], tuple[list[TrialSpec], list[dict[str, Any]]]]
# Durable rows go to the trial store; the rows of a job that Spark gave up on (its task failed
# spark.task.maxFailures times, its executor kept dying) are reported but run again next time.
RowsCallback = Callable[[list[dict[str, Any]], bool], None]


class TaskSource(Protocol):
    """Where the scheduler takes the next task group from when a slot frees."""

    def next_group(self) -> list[TrialSpec] | None:
        """The next group to run, or None when there is nothing to start now. With no job in
        flight, None ends the run."""


class PlannedGroups:
    """A fixed list of task groups, handed out in order (the grid's plan)."""

    def __init__(self, groups: Sequence[list[TrialSpec]]) -> None:
        self._pending = list(groups)
        self._pending.reverse()  # pop() from the end keeps the planned order

    def next_group(self) -> list[TrialSpec] | None:
        return self._pending.pop() if self._pending else None


@dataclass
class SearchStats:
    """What the scheduler saw: jobs run, executors lost, jobs cancelled past their deadline."""

    jobs: int = 0
    executors_lost: list[str] = field(default_factory=list)
    cancelled_for_timeout: int = 0
    job_failures: int = 0


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


class JobRunner(Protocol):
    """How the scheduler runs one task group as one Spark job: on a SparkContext (RDD jobs,
    `SparkContextJobs`) or on a Spark Connect session (DataFrame jobs, connect_jobs.py).
    search.job_runner chooses one from the session."""

    # The session's master (or Connect endpoint) and an id of this application, for run info.
    master: str
    app_id: str
    task_cpus: int

    def slots(self) -> int:
        """Task groups the session can run at once now."""

    def add_file(self, path: str) -> None:
        """Ship `path` to every executor (read there with SparkFiles.get(name))."""

    def thread(self, target: Callable[[], None], name: str) -> threading.Thread:
        """A thread to submit one job from."""

    def run(self, tag: str, description: str, group: list[TrialSpec]) -> list[dict[str, Any]]:
        """Run `group` as one job tagged `tag` (in the job's thread); its result rows."""

    def cancel(self, tag: str) -> None:
        """Cancel the job tagged `tag` (from the scheduler's thread)."""

    def executor_watch(self) -> ExecutorWatch | None:
        """What notices lost executors, where the session can tell."""

    def deadline_watch(self, timeout_s: float, grace_s: float) -> DeadlineWatch | None:
        """What finds jobs past their deadline, where the session can tell."""

    def cluster_shape(self, records: list[dict[str, Any]]) -> tuple[int, int]:
        """(number of executors, total cores), for the efficiency figure."""


def _driver_row(spec: TrialSpec, status: str, error: str) -> dict[str, Any]:
    """A result row the driver writes for a trial whose job returned nothing."""
    row = new_row(spec)
    row.update(status=status, error=error, executor_id=None, host=None)
    row["ended_at"] = datetime.now(UTC)
    return row


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else error!r}"


@dataclass
class _Job:
    index: int
    group: list[TrialSpec]
    job_group: str
    thread: threading.Thread
    running_since: float | None = None
    cancelled: bool = False


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

    def overdue(self, jobs: Iterable[_Job]) -> list[_Job]:
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


class JobScheduler:
    """Runs task groups as Spark jobs, at most one per task slot at a time (see module doc)."""

    def __init__(
        self,
        jobs: JobRunner,
        *,
        run_token: str,
        task_cpus: int,
        on_rows: RowsCallback,
        prepare: PrepareCallback | None = None,
        timeout_s: float | None = None,
        cancel_grace_s: float | None = None,
        progress: Callable[[], None] | None = None,
        progress_interval_s: float = 5.0,
    ) -> None:
        self.jobs = jobs
        self.run_token = run_token
        self.task_cpus = task_cpus
        self.on_rows = on_rows
        self.prepare = prepare
        grace_s = CANCEL_GRACE_S if cancel_grace_s is None else cancel_grace_s
        self.deadlines = None if timeout_s is None else jobs.deadline_watch(timeout_s, grace_s)
        self.progress = progress
        self.progress_interval_s = progress_interval_s
        self.stats = SearchStats()
        self._results: queue.Queue[tuple[int, list[dict[str, Any]] | None, BaseException | None]]
        self._results = queue.Queue()
        self._submitted = 0

    def _submit(self, index: int, group: list[TrialSpec]) -> _Job:
        job_group = f"lgbm-{self.run_token}-{index}"
        trial_ids = ", ".join(spec.trial_id for spec in group)

        def run() -> None:
            try:
                rows = self.jobs.run(job_group, f"LightGBM trial(s) {trial_ids}", group)
            except BaseException as error:  # noqa: BLE001 - handed to the driver loop
                self._results.put((index, None, error))
            else:
                self._results.put((index, rows, None))

        thread = self.jobs.thread(run, f"tuning-job-{index}")
        job = _Job(index, group, job_group, thread)
        thread.start()
        self.stats.jobs += 1
        return job

    def _fill_slots(self, source: TaskSource, in_flight: dict) -> None:
        """Submit the source's next groups while fewer jobs than task slots are in flight."""
        slots = self.jobs.slots()
        while len(in_flight) < slots:
            group = source.next_group()
            if group is None:
                return
            index = self._submitted
            self._submitted += 1
            if self.prepare is not None:
                group, unrunnable = self.prepare(group)
                if unrunnable:
                    self.on_rows(unrunnable, True)
                if not group:
                    continue
            in_flight[index] = self._submit(index, group)

    def run(self, groups: Sequence[list[TrialSpec]] | TaskSource) -> SearchStats:
        """Run every group of a list or a source; returns when all have ended (or raises
        KeyboardInterrupt)."""
        source = PlannedGroups(groups) if isinstance(groups, Sequence) else groups
        in_flight: dict[int, _Job] = {}
        watch = self.jobs.executor_watch()
        last_progress = time.monotonic()
        try:
            while True:
                self._fill_slots(source, in_flight)
                if not in_flight:
                    break
                self._hand_over(in_flight)
                if watch is not None:
                    watch.poll(self.stats)
                for job in self.deadlines.overdue(in_flight.values()) if self.deadlines else []:
                    job.cancelled = True
                    self.stats.cancelled_for_timeout += 1
                    self.jobs.cancel(job.job_group)
                if self.progress and time.monotonic() - last_progress >= self.progress_interval_s:
                    self.progress()
                    last_progress = time.monotonic()
        except BaseException as error:
            self._cancel(in_flight, error)
            raise
        return self.stats

    def _arrived(self) -> list[tuple[int, list[dict[str, Any]] | None, BaseException | None]]:
        """The job results that have arrived, waiting up to POLL_S for the first."""
        try:
            arrived = [self._results.get(timeout=POLL_S)]
        except queue.Empty:
            return []
        while not self._results.empty():
            arrived.append(self._results.get_nowait())
        return arrived

    def _hand_over(self, in_flight: dict[int, _Job]) -> None:
        """Pass every result that has arrived to on_rows (one call per job)."""
        for index, rows, error in self._arrived():
            job = in_flight.pop(index, None)
            if job is None:
                continue
            if error is None:
                self.on_rows(rows, True)
            elif job.cancelled and self.deadlines is not None:
                message = self.deadlines.message(job.group)
                self.on_rows([_driver_row(spec, TIMED_OUT, message) for spec in job.group], True)
            else:
                self.stats.job_failures += 1
                message = f"SparkJobError: {_first_line(error)}"
                logger.warning(
                    "Spark gave up on the job of trial(s) %s: %s; they will run again on the "
                    "next run",
                    ", ".join(spec.trial_id for spec in job.group),
                    message,
                )
                self.on_rows([_driver_row(spec, FAILED, message) for spec in job.group], False)

    def _cancel(self, in_flight: dict[int, _Job], cause: BaseException) -> None:
        """On interrupt or error: cancel what runs, hand over what already finished.

        What was kept is for the caller to say: only it knows whether the rows were stored.
        """
        logger.warning(
            "Search %s: cancelling %d Spark job(s) in flight",
            "interrupted" if _is_interrupt(cause) else f"stopped by {type(cause).__name__}",
            len(in_flight),
        )
        for job in in_flight.values():
            job.cancelled = True
            try:
                self.jobs.cancel(job.job_group)
            except Exception as error:  # noqa: BLE001 - the interrupt must still propagate
                # The signal may have cut a Py4J call short; the JVM ends with this process.
                logger.warning("Could not cancel %s: %s", job.job_group, _first_line(error))
        deadline = time.monotonic() + CANCEL_JOIN_S
        for job in list(in_flight.values()):
            job.thread.join(max(0.0, deadline - time.monotonic()))
        # Jobs that ended just before the cancel still count; cancelled ones are dropped.
        while not self._results.empty():
            index, rows, error = self._results.get_nowait()
            if error is None and in_flight.pop(index, None) is not None:
                self.on_rows(rows, True)


def _is_interrupt(error: BaseException | None) -> bool:
    """A KeyboardInterrupt (SIGINT, or SIGTERM via RunGuardHooks), also when an interrupt that
    landed inside a Py4J call surfaces as the Py4JError raised while handling it."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


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
