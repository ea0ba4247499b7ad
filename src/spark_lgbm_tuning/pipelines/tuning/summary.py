"""What a search sums up when it ends: `tuning_run_info` and the check that some trial succeeded."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from spark_lgbm_tuning.pipelines.tuning.params import RUN_INFO_SEARCH, TuningParams
from spark_lgbm_tuning.pipelines.tuning.progress import best_score
from spark_lgbm_tuning.pipelines.tuning.scheduler import JobRunner, SearchStats
from spark_lgbm_tuning.vocabulary.statuses import FAILED, OK, PRUNED, TIMED_OUT
from spark_lgbm_tuning.vocabulary.trial_columns import STATUS

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
    failed = [record for record in records if record[STATUS] not in {OK, PRUNED}]
    for record in [record for record in failed if record["trial_id"] in new][:5]:
        logger.warning(
            "Trial %s (fold %d) %s: %s",
            record["trial_id"],
            record["fold_id"],
            "timed out" if record[STATUS] == TIMED_OUT else "failed",
            record["error"],
        )
    if len(failed) == len(records):
        first = "; ".join(sorted({str(record["error"]) for record in failed})[:3])
        raise AllTrialsFailedError(f"All {len(records)} trials failed. First errors: {first}")


def efficiency(sum_fit_s: float, wall_s: float, total_cores: int, cpus_per_task: int) -> float:
    """Σ fit seconds ÷ (wall × task slots): 1.0 when every slot fitted for the whole wall.

    A trial holds spark.task.cpus cores for its fit seconds, so a full cluster at task.cpus 2
    has half as many slots as cores and still counts 1.0.
    """
    slots = max(1, total_cores // max(cpus_per_task, 1))
    return sum_fit_s / (wall_s * slots)


def run_info(
    jobs: JobRunner,
    params: TuningParams,
    records: list[dict[str, Any]],
    new: Mapping[str, dict[str, Any]],
    *,
    stats: SearchStats,
    timing: dict[str, Any],
) -> dict[str, Any]:
    """`tuning_run_info`: cluster shape, timings, outcome counts, efficiency, best score."""
    run = list(new.values())
    n_executors, total_cores = jobs.cluster_shape(run or records)
    cpus = jobs.task_cpus
    # Fit seconds of the trials run now (reused trials cost nothing in this run).
    sum_fit_s = float(sum(record["fit_s"] or 0.0 for record in run))
    counts = dict.fromkeys((OK, FAILED, TIMED_OUT), 0)
    for record in records:
        counts[record[STATUS]] = counts.get(record[STATUS], 0) + 1
    info = {
        "task": params.task,
        "spark_master": jobs.master,
        "app_id": jobs.app_id,
        "n_executors": n_executors,
        "total_cores": total_cores,
        "task_cpus": cpus,
        **timing,
        "n_trials": len(records),
        "n_ok": counts[OK],
        "n_failed": counts[FAILED],
        "n_timed_out": counts[TIMED_OUT],
        "n_reused": len(records) - len(run),
        "n_run": len(run),
        "resume": params.resume,
        "trial_timeout_s": params.trial_timeout_s,
        "executors_lost": stats.executors_lost,
        "sum_fit_s": sum_fit_s,
        "efficiency": efficiency(sum_fit_s, timing["wall_s"], total_cores, cpus),
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
