"""Running a search on Spark: reuse the stored trials, ship the folds, run the rest, sum it up.

`run_from_table` is the `run_trials` node's work; the benchmark (tools/benchmark.py) calls it
directly to switch optimisations off (`disabled_levers`), which travel to the executors in each
`TrialSpec`, never through the environment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from pyspark import SparkContext
from pyspark.sql import SparkSession

from spark_lgbm_tuning.columns import ColumnParams
from spark_lgbm_tuning.datasets.trial_store import TrialStore
from spark_lgbm_tuning.pipelines.tuning.adaptive import AdaptiveSearch
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.progress import Progress
from spark_lgbm_tuning.pipelines.tuning.results import (
    PRUNED,
    results_frame,
    reusable_records,
    store_record,
)
from spark_lgbm_tuning.pipelines.tuning.scheduler import (
    JobScheduler,
    SearchStats,
    task_cpus,
    task_slots,
)
from spark_lgbm_tuning.pipelines.tuning.search_space import (
    facts_from_plan,
    fold_facts,
    specs_from_table,
)
from spark_lgbm_tuning.pipelines.tuning.shipping import FoldShipper, shipping_dir
from spark_lgbm_tuning.pipelines.tuning.summary import (
    AllTrialsFailedError,
    check_outcomes,
    run_info,
    timing_info,
)
from spark_lgbm_tuning.pipelines.tuning.tasks import plan_tasks
from spark_lgbm_tuning.trial import TrialSpec, check_levers

logger = logging.getLogger(__name__)

# What run_search raises when no trial succeeded (defined with the outcome check in summary.py).
__all__ = ["AllTrialsFailedError", "run_adaptive", "run_from_table", "run_search"]


def _run_missing(
    sc: SparkContext,
    arrays: FoldArrays,
    specs: list[TrialSpec],
    *,
    params: TuningParams,
    progress: Progress,
    disabled_levers: frozenset[str],
) -> tuple[SearchStats, float, float]:
    """Bin and ship the folds of `specs`, run the trials; returns (stats, binning s, job s)."""
    cpus = task_cpus(sc)
    workdir = shipping_dir(sc)
    token = workdir.name
    specs = _ready(specs, cpus, token, disabled_levers)
    progress.expect(specs)
    shipper = FoldShipper(sc, arrays, specs, workdir)
    try:
        groups = plan_tasks(specs, disabled_levers)
        shipper.start(groups)
        logger.info(
            "Running %d trials as %d Spark jobs on %s (%d task slots now), %d LightGBM "
            "thread(s) per trial (spark.task.cpus)%s",
            len(specs),
            len(groups),
            sc.master,
            task_slots(sc, cpus),
            cpus,
            f", trial_timeout_s={params.trial_timeout_s:g}" if params.trial_timeout_s else "",
        )
        job_started = time.perf_counter()
        scheduler = JobScheduler(
            sc,
            run_token=token,
            task_cpus=cpus,
            on_rows=progress.add,
            prepare=shipper.prepare,
            timeout_s=params.trial_timeout_s,
            progress=progress.log,
            progress_interval_s=params.progress_interval_s,
        )
        stats = scheduler.run(groups)
        progress.log()
        return stats, shipper.binning_s, time.perf_counter() - job_started
    finally:
        shipper.close()


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


def _reused(
    store: TrialStore | None, specs: list[TrialSpec], params: TuningParams
) -> dict[str, dict[str, Any]]:
    """Records of the trials the store already holds a final result for (see reusable_records)."""
    if store is None:
        return {}
    if not params.resume:
        logger.info(
            "tuning.resume is false: running all %d trials again (the trial store keeps the "
            "newest result of each)",
            len(specs),
        )
        return {}
    return reusable_records(store.load(spec.trial_id for spec in specs), specs, params)


def run_search(
    sc: SparkContext,
    arrays: FoldArrays,
    specs: list[TrialSpec],
    params: TuningParams,
    *,
    store: TrialStore | None = None,
    disabled_levers: frozenset[str] = frozenset(),
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run the trials the store lacks; returns every trial's record (in `specs` order) and the
    run's info. Holds the store's lock throughout (a second search on it fails at once).
    Raises AllTrialsFailedError when no trial succeeded."""
    disabled_levers = check_levers(disabled_levers)
    with store.locked() if store is not None else contextlib.nullcontext():
        if params.search.adaptive:
            return run_adaptive(sc, arrays, params, store=store, disabled_levers=disabled_levers)
        return _search_locked(
            sc, arrays, specs, params, store=store, disabled_levers=disabled_levers
        )


def _search_locked(
    sc: SparkContext,
    arrays: FoldArrays,
    specs: list[TrialSpec],
    params: TuningParams,
    *,
    store: TrialStore | None,
    disabled_levers: frozenset[str],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    reused = _reused(store, specs, params)
    to_run = [spec for spec in specs if spec.trial_id not in reused]
    logger.info(
        "Trial store %s: %d of %d trials reused, %d to run",
        store.path if store is not None else "not used",
        len(reused),
        len(specs),
        len(to_run),
    )
    stats, binning_s, job_s = SearchStats(), 0.0, 0.0
    progress = Progress(params, store)
    if to_run:
        try:
            stats, binning_s, job_s = _run_missing(
                sc,
                arrays,
                to_run,
                params=params,
                progress=progress,
                disabled_levers=disabled_levers,
            )
        except BaseException:
            progress.log_what_was_kept()
            raise
    timing = timing_info(started, started_at, binning_s, job_s)
    _compact(
        store, params, {spec.trial_id: (spec.fold_id, spec.fold_fingerprint) for spec in specs}
    )
    by_id = {**reused, **progress.records}
    # Report in the trials table's order, not the execution order; one record per trial.
    records = [by_id[spec.trial_id] for spec in specs if spec.trial_id in by_id]
    check_outcomes(records, progress.records)
    info = run_info(sc, params, records, progress.records, stats=stats, timing=timing)
    info.update(
        strategy=params.search.strategy,
        n_combinations=params.n_combinations,
        n_pruned=0,
        boosting_s_saved_by_pruning=0.0,
    )
    return records, info


def _compact(
    store: TrialStore | None, params: TuningParams, current: Mapping[str, tuple[int, str]]
) -> None:
    """Merge the store's batches; `current`: trial_id -> (fold_id, fingerprint) of this search."""
    if store is not None:
        merged = store.compact(params.store_keep_fingerprints, current)
        logger.info("Trial store %s: %d batch file(s) compacted", store.path, merged)


def run_adaptive(
    sc: SparkContext,
    arrays: FoldArrays,
    params: TuningParams,
    *,
    store: TrialStore | None,
    disabled_levers: frozenset[str],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """An adaptive search (adaptive.py) on Spark: proposals, pruning, the budget; resumed from
    the store's trials of this search space. Returns its records and run info."""
    started_at, started = datetime.now(UTC), time.perf_counter()
    cpus, workdir = task_cpus(sc), shipping_dir(sc)
    progress = Progress(params, store)
    shipper = FoldShipper(sc, arrays, [], workdir)

    def ready(specs: list[TrialSpec]) -> list[TrialSpec]:
        specs = _ready(specs, cpus, workdir.name, disabled_levers)
        progress.expect_more(specs)
        return specs

    search = AdaptiveSearch(
        params,
        fold_facts(arrays),
        ready=ready,
        on_proposed=lambda specs: shipper.start([[spec] for spec in specs]),
    )
    if store is not None and params.resume:
        search.rebuild(store.load())

    def on_rows(rows: list[dict[str, Any]], durable: bool) -> None:
        search.observe(rows)  # sets a pruned fold's status before it is stored
        progress.add(rows, durable)

    scheduler = JobScheduler(
        sc,
        run_token=workdir.name,
        task_cpus=cpus,
        on_rows=on_rows,
        prepare=shipper.prepare,
        timeout_s=params.trial_timeout_s,
        progress=search.log_progress,
        progress_interval_s=params.progress_interval_s,
    )
    logger.info(
        "Adaptive search (%s, pruning %s) on %s: %d task slots, %d LightGBM thread(s) per trial",
        params.search.strategy,
        params.search.pruning,
        sc.master,
        task_slots(sc, cpus),
        cpus,
    )
    try:
        search.start()
        stats = scheduler.run(search)
    except BaseException:
        progress.log_what_was_kept()
        raise
    finally:
        shipper.close()
    search.log_progress()
    timing = timing_info(started, started_at, shipper.binning_s, time.perf_counter() - started)
    records = _adaptive_records(search, progress, store)
    _compact(store, params, {r["trial_id"]: (r["fold_id"], r["fold_fingerprint"]) for r in records})
    check_outcomes(records, progress.records)
    info = run_info(sc, params, records, progress.records, stats=stats, timing=timing)
    info.update(
        strategy=params.search.strategy,
        n_combinations=search.n_proposed,
        n_pruned=search.counts()["pruned"],
        boosting_s_saved_by_pruning=search.saved_boosting_s(records),
        time_budget_s=params.search.time_budget_s,
    )
    return records, info


def _adaptive_records(
    search: AdaptiveSearch, progress: Progress, store: TrialStore | None
) -> list[dict[str, Any]]:
    """Every fold result of the search (reused and new) in proposal and run order; the folds of
    pruned combinations get status pruned, in the store too (they were stored as ok)."""
    by_id = {**search.reused, **progress.records}
    records, restored = [], []
    for combination in search.combinations.values():
        for trial_id in combination.trial_ids:
            record = by_id.get(trial_id)
            if record is None:
                continue
            if trial_id in search.pruned_ids:
                # As stored: the fold that was pruned says so already, earlier ones said ok.
                stored = search.stored.get(trial_id) or progress.records[trial_id]
                if stored["status"] != PRUNED:
                    restored.append({**record, "status": PRUNED})
                record = {**record, "status": PRUNED}
            records.append(record)
    if store is not None and restored and progress.store_error is None:
        store.append(
            store_record(record, search.params.trial_timeout_s, record["fold_fingerprint"] or "")
            for record in restored
        )
    return records


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
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The trials of `tuning_trials` run on `data` (checked to be the data they were expanded
    from); returns `tuning_results` and `tuning_run_info`. With an adaptive search.strategy,
    `tuning_trials` is the fold plan and the combinations are proposed as the search runs."""
    if params.search.adaptive:
        specs = []
        expected = {fold.fold_id: {fold.fingerprint} for fold in facts_from_plan(trials, params)}
    else:
        specs = specs_from_table(trials, params)
        expected = {}
        for spec in specs:
            expected.setdefault(spec.fold_id, set()).add(spec.fold_fingerprint)
    fold_ids = sorted(expected)
    arrays = FoldArrays(data, fold_rows(folds, fold_ids, len(data)), columns)
    arrays.check_fingerprints(expected)
    records, info = run_search(
        spark.sparkContext, arrays, specs, params, store=store, disabled_levers=disabled_levers
    )
    return results_frame(records, params), info
