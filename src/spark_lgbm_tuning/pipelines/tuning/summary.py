"""What a search sums up when it ends: `tuning_run_info` and the check that some trial succeeded."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pyspark import SparkContext

from spark_lgbm_tuning.pipelines.tuning.params import RUN_INFO_SEARCH, TuningParams
from spark_lgbm_tuning.pipelines.tuning.progress import best_score
from spark_lgbm_tuning.pipelines.tuning.results import PRUNED
from spark_lgbm_tuning.pipelines.tuning.scheduler import SearchStats, executor_infos, task_cpus

logger = logging.getLogger(__name__)


class AllTrialsFailedError(RuntimeError):
    """Every trial of the search failed; the message carries the first errors."""


def timing_info(
    started: float, started_at: datetime, binning_s: float, job_s: float
) -> dict[str, Any]:
    return {
        "wall_s": time.perf_counter() - started,
        "binning_s": binning_s,
        "job_s": job_s,
        "started_at": started_at.isoformat(),
        "ended_at": datetime.now(UTC).isoformat(),
    }


def check_outcomes(records: list[dict[str, Any]], new: Mapping[str, dict[str, Any]]) -> None:
    """Log the first new failures; raise when every trial failed."""
    failed = [record for record in records if record["status"] not in {"ok", PRUNED}]
    for record in [record for record in failed if record["trial_id"] in new][:5]:
        logger.warning(
            "Trial %s (fold %d) %s: %s",
            record["trial_id"],
            record["fold_id"],
            "timed out" if record["status"] == "timed_out" else "failed",
            record["error"],
        )
    if len(failed) == len(records):
        first = "; ".join(sorted({str(record["error"]) for record in failed})[:3])
        raise AllTrialsFailedError(f"All {len(records)} trials failed. First errors: {first}")


def cluster_shape(sc: SparkContext, records: list[dict[str, Any]]) -> tuple[int, int]:
    """(number of executors, total cores) of the session, for the efficiency figure."""
    if sc.master.startswith("local"):
        return 1, sc.defaultParallelism
    # The JVM's list includes the driver.
    n_executors = max(
        len(executor_infos(sc)) - 1, len({record["executor_id"] for record in records})
    )
    cores = sc.getConf().get("spark.executor.cores")
    total_cores = n_executors * int(cores) if cores else sc.defaultParallelism
    return n_executors, total_cores


def run_info(
    sc: SparkContext,
    params: TuningParams,
    records: list[dict[str, Any]],
    new: Mapping[str, dict[str, Any]],
    *,
    stats: SearchStats,
    timing: dict[str, Any],
) -> dict[str, Any]:
    """`tuning_run_info`: cluster shape, timings, outcome counts, efficiency, best score."""
    run = list(new.values())
    n_executors, total_cores = cluster_shape(sc, run or records)
    # Fit seconds of the trials run now (reused trials cost nothing in this run).
    sum_fit_s = float(sum(record["fit_s"] or 0.0 for record in run))
    counts = {status: 0 for status in ("ok", "failed", "timed_out")}
    for record in records:
        counts[record["status"]] = counts.get(record["status"], 0) + 1
    info = {
        "task": params.task,
        "spark_master": sc.master,
        "app_id": sc.applicationId,
        "n_executors": n_executors,
        "total_cores": total_cores,
        "task_cpus": task_cpus(sc),
        **timing,
        "n_trials": len(records),
        "n_ok": counts["ok"],
        "n_failed": counts["failed"],
        "n_timed_out": counts["timed_out"],
        "n_reused": len(records) - len(run),
        "n_run": len(run),
        "resume": params.resume,
        "trial_timeout_s": params.trial_timeout_s,
        "executors_lost": stats.executors_lost,
        "sum_fit_s": sum_fit_s,
        "efficiency": sum_fit_s / (timing["wall_s"] * total_cores),
        "primary_metric": params.primary_metric,
        "best_primary_metric": best_score(records, params),
        # The search that produced tuning_results: reporting compares it with its parameters.
        RUN_INFO_SEARCH: params.search_description(),
    }
    logger.info(
        "Search done: %d/%d trials ok (%d reused, %d run) in %.1f s on %d cores; sum fit "
        "%.1f s, efficiency %.2f",
        info["n_ok"],
        info["n_trials"],
        info["n_reused"],
        info["n_run"],
        timing["wall_s"],
        total_cores,
        sum_fit_s,
        info["efficiency"],
    )
    return info
