"""Driver side of a search: one Spark job per task group, results handed over as each job ends.

A single `collect()` of every trial would bring nothing back until the last trial ended, so an
interrupt or a driver crash would lose the whole search. Here each group of trials (see
`tasks.plan_tasks`: one boosting run's trials, or a pack of short runs of one fold) is its own
Spark job, submitted from a driver
thread while fewer jobs than task slots are in flight, in the planned (longest-first) order. Each
job's rows go to `on_rows` as soon as it returns, so an interrupt loses at most the jobs in
flight. A `prepare` callback readies each group just before it is submitted (the tuning node
uses it to wait for the group's fold, binned in the background). A `JobRunner` runs each job:
`spark_jobs.SparkContextJobs` (RDD jobs, the points below), or connect_jobs.ConnectJobs on a
Spark Connect session (DataFrame jobs; no executor list nor driver-side deadline there).

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

from spark_lgbm_tuning.executor.trial import new_row
from spark_lgbm_tuning.executor.trial_spec import TrialSpec
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


class LostExecutors(Protocol):
    """Notices executors leaving the application (spark_jobs.ExecutorWatch)."""

    def poll(self, stats: SearchStats) -> None:
        """Log (and count in `stats`) the executors gone since the last poll."""


class Deadlines(Protocol):
    """Finds jobs past their deadline (spark_jobs.DeadlineWatch)."""

    def overdue(self, jobs: Iterable[Job]) -> list[Job]:
        """The jobs (not cancelled yet) past their deadline now."""

    def message(self, group: list[TrialSpec]) -> str:
        """The error of a trial whose job the driver cancelled."""


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

    def executor_watch(self) -> LostExecutors | None:
        """What notices lost executors, where the session can tell."""

    def deadline_watch(self, timeout_s: float, grace_s: float) -> Deadlines | None:
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
class Job:
    """One task group in flight as a Spark job (`job_group`: its tag) from its own thread."""

    index: int
    group: list[TrialSpec]
    job_group: str
    thread: threading.Thread
    running_since: float | None = None
    cancelled: bool = False


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

    def _submit(self, index: int, group: list[TrialSpec]) -> Job:
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
        job = Job(index, group, job_group, thread)
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
        in_flight: dict[int, Job] = {}
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

    def _hand_over(self, in_flight: dict[int, Job]) -> None:
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

    def _cancel(self, in_flight: dict[int, Job], cause: BaseException) -> None:
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
