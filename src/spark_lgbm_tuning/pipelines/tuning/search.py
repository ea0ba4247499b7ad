"""Running a search on Spark: one loop for every strategy. The strategy's task source
(sources.search_source: the grid, or an adaptive search) reuses the stored trials and hands out
task groups; this loop ships their folds, runs them (scheduler.py), stores and sums them up.

`run_from_table` is the `run_trials` node's work; the benchmark (tools/benchmark.py) calls it
directly to switch optimisations off (`disabled_levers`), which travel to the executors in each
`TrialSpec`, never through the environment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from pyspark.sql import SparkSession

from spark_lgbm_tuning.datasets.trial_store import TrialStore
from spark_lgbm_tuning.executor.trial_spec import TrialSpec, check_levers
from spark_lgbm_tuning.pipelines.tuning.connect_jobs import ConnectJobs
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows, searched_params
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.predictions import PredictionBuffer
from spark_lgbm_tuning.pipelines.tuning.progress import Progress
from spark_lgbm_tuning.pipelines.tuning.results import results_frame, store_record
from spark_lgbm_tuning.pipelines.tuning.rungs import RungLadder, rung_info
from spark_lgbm_tuning.pipelines.tuning.scheduler import (
    JobRunner,
    JobScheduler,
    PrepareCallback,
    RowsCallback,
)
from spark_lgbm_tuning.pipelines.tuning.search_space import (
    data_facts,
    fold_facts,
    table_fingerprints,
)
from spark_lgbm_tuning.pipelines.tuning.shipping import FoldShipper, shipping_dir
from spark_lgbm_tuning.pipelines.tuning.sources import search_source
from spark_lgbm_tuning.pipelines.tuning.spark_jobs import SparkContextJobs
from spark_lgbm_tuning.pipelines.tuning.summary import (
    AllTrialsFailedError,
    check_outcomes,
    run_info,
    timing_info,
)
from spark_lgbm_tuning.pipelines.tuning.tasks import plan_tasks
from spark_lgbm_tuning.spark.remote import is_connect
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from spark_lgbm_tuning.vocabulary.search_id import SEARCH_ID
from spark_lgbm_tuning.vocabulary.trial_columns import FOLD_FINGERPRINT

logger = logging.getLogger(__name__)

# What run_search raises when no trial succeeded (defined with the outcome check in summary.py).
__all__ = ["AllTrialsFailedError", "run_from_table", "run_search"]


def _ready(
    specs: list[TrialSpec], cpus: int, run_token: str, disabled_levers: frozenset[str]
) -> list[TrialSpec]:
    """What the driver adds to each trial before it runs: threads, the search's token, levers."""
    return [
        dataclasses.replace(
            spec,
            params={**spec.params, "num_threads": cpus},
            run_token=run_token,
            disabled_levers=disabled_levers,
        )
        for spec in specs
    ]


def job_runner(spark: SparkSession) -> JobRunner:
    """The one place a search's job runner is chosen: DataFrame jobs on a Spark Connect
    session (it has no SparkContext), RDD jobs otherwise."""
    return ConnectJobs(spark) if is_connect(spark) else SparkContextJobs(spark.sparkContext)


def run_search(
    jobs: JobRunner,
    arrays: FoldArrays,
    trials: pd.DataFrame,
    params: TuningParams,
    *,
    store: TrialStore | None = None,
    disabled_levers: frozenset[str] = frozenset(),
) -> SearchOutcome:
    """Run the search of `params.search` over `tuning_trials` (its task source from
    sources.search_source), reusing what the store holds; returns every trial's record, the
    run's info and the leading combinations' predictions and learning curves. Holds the store's
    lock throughout (a second search on it fails at once). Raises AllTrialsFailedError when no
    trial succeeded."""
    disabled_levers = check_levers(disabled_levers)
    with store.locked() if store is not None else contextlib.nullcontext():
        return _search_locked(
            jobs, arrays, trials, params, store=store, disabled_levers=disabled_levers
        )


def _search_locked(
    jobs: JobRunner,
    arrays: FoldArrays,
    trials: pd.DataFrame,
    params: TuningParams,
    *,
    store: TrialStore | None,
    disabled_levers: frozenset[str],
) -> SearchOutcome:
    started_at, started = datetime.now(UTC), time.perf_counter()
    cpus, workdir = jobs.task_cpus, shipping_dir(jobs.app_id)
    progress = Progress(params, store)
    buffer = PredictionBuffer(params, arrays)
    shipper = FoldShipper(jobs.add_file, arrays, [], workdir)
    ladder = RungLadder(params.search.round_pruning, params.max_rounds, arrays.train_sizes())

    def ready(specs: list[TrialSpec]) -> list[TrialSpec]:
        specs = _ready(specs, cpus, workdir.name, disabled_levers)
        progress.expect_more(specs)
        return specs

    source = search_source(
        params,
        trials,
        fold_facts(arrays),
        data=data_facts(arrays, params.task),
        disabled_levers=disabled_levers,
        slots=jobs.slots(),
        ready=ready,
        on_proposed=lambda specs: shipper.start([[spec] for spec in specs]),
        log_progress=progress.log,
    )
    if store is not None:
        source.resume(store)

    def on_rows(rows: list[dict[str, Any]], durable: bool) -> None:
        source.observe(rows)  # sets a pruned fold's status before it is stored
        buffer.add(rows)
        progress.add(rows, durable, buffer.held(rows))
        ladder.add(progress.records[row["trial_id"]] for row in rows)

    def prepare(group: list[TrialSpec]) -> tuple[list[TrialSpec], list[dict[str, Any]]]:
        # At submission, for every strategy: the rungs and the fold's latest thresholds, from
        # the trials finished so far (reused ones included, from their stored rung scores; an
        # adaptive search adds to `reused` as it goes).
        ladder.add_reused(source.reused)
        return shipper.prepare(ladder.carry(group, may_prune=source.rungs_may_prune()))

    def scheduler(
        on_rows: RowsCallback, prepare: PrepareCallback, log: Callable[[], None]
    ) -> JobScheduler:
        return JobScheduler(
            jobs,
            run_token=workdir.name,
            task_cpus=cpus,
            on_rows=on_rows,
            prepare=prepare,
            timeout_s=params.trial_timeout_s,
            progress=log,
            progress_interval_s=params.progress_interval_s,
        )

    try:
        source.start()
        logger.info(
            "Search %s on %s: %d task slots now, %d LightGBM thread(s) per trial "
            "(spark.task.cpus)%s",
            params.search.strategy,
            jobs.master,
            jobs.slots(),
            cpus,
            f", trial_timeout_s={params.trial_timeout_s:g}" if params.trial_timeout_s else "",
        )
        job_started = time.perf_counter()
        stats = scheduler(on_rows, prepare, source.log_progress).run(source)
        job_s = time.perf_counter() - job_started
    except BaseException as error:
        shipper.close()
        progress.stopped_by(error)
        raise
    source.log_progress()
    records, restored = source.final_records(progress.records)
    if store is not None and restored and progress.store_error is None:
        store.append(
            store_record(record, params.trial_timeout_s, record[FOLD_FINGERPRINT] or "")
            for record in restored
        )
    leaders = buffer.leaders(records)
    read_back = _read_back(store, buffer, records, leaders)
    missing = buffer.missing(records, leaders)
    try:
        if missing:
            again = _ready(source.specs_of(missing), cpus, workdir.name, disabled_levers)
            predicted = PredictedAgain(
                buffer, store if progress.store_error is None else None, len(again)
            )
            # Without rungs: the leaders ran to the end, and later thresholds must not stop them.
            predicted.run(
                scheduler(predicted.add, shipper.prepare, predicted.log),
                plan_tasks(again, disabled_levers, jobs.slots()),
            )
    finally:
        shipper.close()
    _compact(
        store,
        params,
        {r["trial_id"]: (r["fold_id"], r[FOLD_FINGERPRINT] or "") for r in records},
        buffer.trial_ids(records, leaders),
    )
    timing = timing_info(started, started_at, shipper.binning_s, job_s)
    check_outcomes(records, progress.records)
    info = run_info(jobs, params, records, progress.records, stats=stats, timing=timing)
    info.update(
        source.run_info(records),
        **rung_info(records, source.specs_of),
        n_predicted_again=len(missing),
        n_predictions_read_back=read_back,
    )
    return SearchOutcome(records, info, *buffer.frames(leaders))


@dataclass
class SearchOutcome:
    """What a search returns: every trial's record, `tuning_run_info`, and the leading
    combinations' `tuning_predictions` and `tuning_learning_curves` (predictions.py)."""

    records: list[dict[str, Any]]
    info: dict[str, Any]
    predictions: pd.DataFrame
    learning_curves: pd.DataFrame


class PredictedAgain:
    """The leaders' trials run again for their predictions alone (the trial store lacks them):
    taken into the buffer, stored for the next run (when `store` is given), and logged."""

    def __init__(self, buffer: PredictionBuffer, store: TrialStore | None, n_trials: int) -> None:
        self.buffer = buffer
        self.store = store
        self.n_trials = n_trials
        self.n_done = 0
        self.started = time.perf_counter()
        logger.info(
            "Running %d trial(s) of the leading combinations again for their test predictions: %s",
            n_trials,
            "the trial store holds none for them (stored before it kept predictions, or not "
            "among the leaders when they ran); they are stored now for the next run"
            if store is not None
            else "not kept while others led, and no trial store to keep them in",
        )

    def run(self, scheduler: JobScheduler, groups: list[list[TrialSpec]]) -> None:
        """Run the `groups` on the `scheduler` (whose rows come to `add`), then log."""
        scheduler.run(groups)
        self.log()

    def add(self, rows: list[dict[str, Any]], durable: bool) -> None:
        self.buffer.add(rows, evict=False)
        self.n_done += len(rows)
        if durable and self.store is not None:
            self.store.append((), self.buffer.held(rows))

    def log(self) -> None:
        logger.info(
            "Test predictions of the leading combinations: %d/%d trial(s) run again, elapsed "
            "%.0f s",
            self.n_done,
            self.n_trials,
            time.perf_counter() - self.started,
        )


def _read_back(
    store: TrialStore | None,
    buffer: PredictionBuffer,
    records: list[dict[str, Any]],
    leaders: list[str],
) -> int:
    """Put the stored predictions of the leaders' folds the buffer lacks (trials reused from
    the store) into it; returns how many were read back."""
    missing = set(buffer.missing(records, leaders))
    if store is None or not missing:
        return 0
    outputs = store.load_outputs(missing)
    buffer.add(
        (
            {**record, **outputs[record["trial_id"]]}
            for record in records
            if record["trial_id"] in outputs
        ),
        evict=False,
    )
    if outputs:
        logger.info(
            "Trial store %s: test predictions and learning curves of %d trial(s) of the leading "
            "combinations read back, not run again",
            store.path,
            len(outputs),
        )
    return len(outputs)


def _compact(
    store: TrialStore | None,
    params: TuningParams,
    current: Mapping[str, tuple[int, str]],
    keep_outputs: list[str],
) -> None:
    """Merge the store's batches; `current`: trial_id -> (fold_id, fingerprint) of this search;
    predictions and curves are kept for the trials of `keep_outputs` only (the leaders')."""
    if store is not None:
        merged = store.compact(params.store_keep_fingerprints, current, keep_outputs)
        logger.info("Trial store %s: %d batch file(s) compacted", store.path, merged)


def run_from_table(
    spark: SparkSession,
    data: pd.DataFrame,
    folds: pd.DataFrame,
    trials: pd.DataFrame,
    params: TuningParams,
    *,
    columns: ColumnParams,
    store: TrialStore | None = None,
    disabled_levers: frozenset[str] = frozenset(),
) -> tuple[pd.DataFrame, dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """The trials of `tuning_trials` run on `data` (checked to be the data they were expanded
    from); returns `tuning_results`, `tuning_run_info`, `tuning_predictions` and
    `tuning_learning_curves`, which carry one new search id (`SEARCH_ID`)."""
    if trials.empty:  # an adaptive search proposes its trials on the folds of params.folds
        arrays = FoldArrays(data, fold_rows(folds, params.folds, len(data)), columns)
    else:
        expected = table_fingerprints(trials)
        arrays = FoldArrays(data, fold_rows(folds, sorted(expected), len(data)), columns)
        arrays.check_fingerprints(expected)
    params = searched_params(params, arrays)
    outcome = run_search(
        job_runner(spark), arrays, trials, params, store=store, disabled_levers=disabled_levers
    )
    # One id for the four outputs of this run, which Kedro saves one by one: reporting refuses a
    # set that two runs wrote (pipelines/reporting/current.py). Parquet keeps a frame's attrs.
    search_id = uuid.uuid4().hex
    tables = (results_frame(outcome.records, params), outcome.predictions, outcome.learning_curves)
    for table in tables:
        table.attrs[SEARCH_ID] = search_id
    results, predictions, curves = tables
    return results, {**outcome.info, SEARCH_ID: search_id}, predictions, curves
