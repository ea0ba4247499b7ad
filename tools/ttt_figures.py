"""Time-to-target figures from evaluations: when the target was reached, best scores at fixed
budgets, medians over seeds, speed-ups. Pure functions of tables; no Spark, no timing.

An *evaluations* table has one row per combination a method tried: `end_s` (seconds from the
method's start until its last evaluated fold ended), `score` (the mean primary metric over all
folds when every fold was evaluated `ok`, else NaN), `complete`, `pruned`, `n_folds` (folds
evaluated) and `boosting_s` (fit seconds over those folds). Scores are higher-is-better (AUC).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import pandas as pd

from spark_lgbm_tuning.vocabulary.statuses import OK, PRUNED

EVALUATION_COLUMNS = ("end_s", "score", "complete", "pruned", "n_folds", "boosting_s")
# Fractions of the grid's wall at which every method's best score is read.
BUDGET_FRACTIONS = (0.10, 0.25, 0.50)
# Float noise only (means over folds summed in another order): the target has no slack.
SCORE_TOLERANCE = 1e-12
GRID = "grid"
OURS_ADAPTIVE = ("random", "tpe")
# optuna: TPE + fold-wise Wilcoxon pruning; optuna_hyperband: TPE + Hyperband on every boosting
# round's AUC (optuna-integration's LightGBM pruning callback), the multi-fidelity peer.
PEERS = ("hyperopt", "flaml", "optuna", "optuna_hyperband")


def evaluations(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """An evaluations table from per-combination rows (each holding EVALUATION_COLUMNS)."""
    table = pd.DataFrame(rows, columns=list(EVALUATION_COLUMNS))
    return table.astype(
        {"end_s": float, "score": float, "complete": bool, "pruned": bool, "n_folds": int}
    )


def evaluations_from_results(
    results: pd.DataFrame, started_at: Any, n_folds: int, metric: str = "auc_roc"
) -> pd.DataFrame:
    """Our `tuning_results` (one row per (combination, fold)) as an evaluations table.

    A combination is complete when all `n_folds` folds are `ok`; it ends when its last fold
    ends (`ended_at` - the run's `started_at`). One with any `pruned` fold counts as pruned.
    """
    start = pd.Timestamp(started_at)
    start = start.tz_localize("UTC") if start.tzinfo is None else start
    rows = []
    for _, combo in results.groupby("combo_id", sort=False):
        ended = pd.to_datetime(combo["ended_at"], utc=True)
        ok = combo[combo["status"] == OK]
        complete = ok["fold_id"].nunique() == n_folds
        rows.append(
            {
                "end_s": (ended.max() - start).total_seconds(),
                "score": float(ok.sort_values("fold_id")[metric].mean()) if complete else math.nan,
                "complete": complete,
                "pruned": bool((combo["status"] == PRUNED).any()),
                "n_folds": int(combo["status"].isin([OK, PRUNED]).sum()),
                "boosting_s": float(combo["fit_s"].fillna(0.0).sum()),
            }
        )
    return evaluations(rows).sort_values("end_s", ignore_index=True)


def best_curve(table: pd.DataFrame) -> pd.DataFrame:
    """(end_s, best) at each complete evaluation that raised the best score so far."""
    complete = table[table["complete"]].sort_values("end_s")
    best = complete["score"].cummax()
    raised = best > best.shift(fill_value=-math.inf)
    return pd.DataFrame({"end_s": complete["end_s"][raised], "best": best[raised]}).reset_index(
        drop=True
    )


def time_to_target(table: pd.DataFrame, target: float) -> float | None:
    """Seconds until a complete evaluation scored >= target; None if none did."""
    hits = table[table["complete"] & (table["score"] >= target - SCORE_TOLERANCE)]
    return float(hits["end_s"].min()) if len(hits) else None


def best_by(table: pd.DataFrame, seconds: float) -> float | None:
    """The best complete score at `seconds`; None when nothing was complete by then."""
    done = table[table["complete"] & (table["end_s"] <= seconds)]
    return float(done["score"].max()) if len(done) else None


def seed_figures(table: pd.DataFrame, *, target: float, grid_wall_s: float) -> dict[str, Any]:
    """One method's figures for one seed."""
    complete = table[table["complete"]]
    return {
        "time_to_target_s": time_to_target(table, target),
        "best_score": float(complete["score"].max()) if len(complete) else None,
        "best_at": {
            f"{round(100 * fraction)}%": best_by(table, fraction * grid_wall_s)
            for fraction in BUDGET_FRACTIONS
        },
        "boosting_s": float(table["boosting_s"].sum()),
        "n_trials": len(table),
        "n_complete": len(complete),
        "n_pruned": int(table["pruned"].sum()),
        "last_end_s": float(table["end_s"].max()) if len(table) else 0.0,
    }


def _median(values: list[float | None], missing: float) -> float | None:
    """The median with None read as `missing` (inf: never reached; -inf: no score yet)."""
    if not values:
        return None
    result = statistics.median(missing if value is None else value for value in values)
    return None if math.isinf(result) else float(result)


def method_medians(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over seeds; a seed that never reached the target counts as infinitely slow, so
    the median is None ("not reached") unless at least half of the seeds reached it."""
    reached = [figures["time_to_target_s"] for figures in per_seed]
    return {
        "time_to_target_s": _median(reached, math.inf),
        "seeds_reached": sum(value is not None for value in reached),
        "n_seeds": len(per_seed),
        "best_score": _median([figures["best_score"] for figures in per_seed], -math.inf),
        "best_at": {
            key: _median([figures["best_at"][key] for figures in per_seed], -math.inf)
            for key in per_seed[0]["best_at"]
        }
        if per_seed
        else {},
        "boosting_s": _median([figures["boosting_s"] for figures in per_seed], math.inf),
        "n_trials": _median([figures["n_trials"] for figures in per_seed], math.inf),
        "n_pruned": _median([figures["n_pruned"] for figures in per_seed], math.inf),
    }


def speedups(medians: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """speedup_vs_grid (grid's time to target / our best adaptive strategy's) and
    speedup_vs_best_peer (the fastest peer's / ours), from the medians; None where a side is
    missing or never reached the target."""

    def seconds(method: str) -> float | None:
        return medians.get(method, {}).get("time_to_target_s")

    ours = {name: seconds(name) for name in OURS_ADAPTIVE if seconds(name) is not None}
    peers = {name: seconds(name) for name in PEERS if seconds(name) is not None}
    best_ours = min(ours, key=ours.__getitem__) if ours else None
    fastest_peer = min(peers, key=peers.__getitem__) if peers else None
    grid_s = seconds(GRID)
    ours_s = ours.get(best_ours) if best_ours else None
    return {
        "best_adaptive": best_ours,
        "fastest_peer": fastest_peer,
        "speedup_vs_grid": grid_s / ours_s if grid_s and ours_s else None,
        "speedup_vs_best_peer": peers[fastest_peer] / ours_s if fastest_peer and ours_s else None,
    }
