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
# Float noise only (means over folds summed in another order): the exact target's only slack.
SCORE_TOLERANCE = 1e-12
# Issue 23's target: the grid's best mean AUC minus this (below the folds' own spread), also how
# far a pruned grid's best may fall below the full grid's winner and still count as keeping it.
SLACK = 0.0005
GRID = "grid"
# Round-wise pruning (`tuning.search.round_pruning.rule`), and the suffix naming a method run
# with it: grid_asha is the pruned grid; random_asha / tpe_asha add it to fold-wise pruning.
ASHA = "asha"
ASHA_SUFFIX = f"_{ASHA}"
GRID_ASHA = GRID + ASHA_SUFFIX
# tpe_cheap_asha / random_cheap_asha: the same with `search.start: cheap` (the space's cheapest
# combination proposed first, FLAML's low-cost start).
CHEAP_INFIX = "_cheap"
# tpe_portfolio_asha / random_portfolio_asha: the same with `search.start: portfolio` (issue 31).
PORTFOLIO_INFIX = "_portfolio"
# Each infix naming a `search.start` value, the one place a method name maps to its start.
START_INFIXES = {CHEAP_INFIX: "cheap", PORTFOLIO_INFIX: "portfolio"}
# tpe_few_asha: TPE models the results after FEW_STARTUP random proposals instead of
# `search.startup_trials`' default (issue 23 part 4: does a shorter random start help?).
FEW_INFIX = "_few"
FEW_STARTUP = 4
# tpe_cheap_asha_fold1: the same with `round_pruning.rung_folds: 1` (rungs judge a combination on
# its first fold only; the offline replay kept the winner far more often, issue 31).
FIRST_FOLD_SUFFIX = "_fold1"
OURS_ADAPTIVE = (
    "random",
    "tpe",
    "random" + ASHA_SUFFIX,
    "tpe" + ASHA_SUFFIX,
    "random" + CHEAP_INFIX + ASHA_SUFFIX,
    "tpe" + CHEAP_INFIX + ASHA_SUFFIX,
    "tpe" + FEW_INFIX + ASHA_SUFFIX,
    "tpe" + CHEAP_INFIX + ASHA_SUFFIX + FIRST_FOLD_SUFFIX,
    "tpe" + PORTFOLIO_INFIX + ASHA_SUFFIX + FIRST_FOLD_SUFFIX,
    "random" + PORTFOLIO_INFIX + ASHA_SUFFIX,
    "tpe" + PORTFOLIO_INFIX,
    "tpe" + PORTFOLIO_INFIX + ASHA_SUFFIX,
    # search.strategy stepwise (issue 31: Optuna's tuner idea in our search).
    "stepwise" + PORTFOLIO_INFIX,
    "stepwise" + PORTFOLIO_INFIX + ASHA_SUFFIX,
)
# Ours that may beat the grid: the best of them sets the headline speed-ups.
OURS_FAST = (GRID_ASHA, *OURS_ADAPTIVE)
# optuna: TPE + fold-wise Wilcoxon pruning; optuna_hyperband: TPE + Hyperband on every boosting
# round's AUC (optuna-integration's LightGBM pruning callback), the multi-fidelity peer.
# flaml_default: flaml.default's zero-shot LGBMClassifier (one fit per fold, no search);
# optuna_tuner_cv: optuna-integration's stepwise LightGBMTunerCV on the same folds (issue 31).
FLAML_DEFAULT = "flaml_default"
OPTUNA_TUNER_CV = "optuna_tuner_cv"
PEERS = (
    "hyperopt",
    "flaml",
    "flaml_seeded",
    "optuna",
    "optuna_hyperband",
    FLAML_DEFAULT,
    OPTUNA_TUNER_CV,
)


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


def seed_figures(
    table: pd.DataFrame, *, target: float, grid_wall_s: float, exact: float | None = None
) -> dict[str, Any]:
    """One method's figures for one seed; `exact` is the grid's best (the no-slack target)."""
    complete = table[table["complete"]]
    return {
        "time_to_target_s": time_to_target(table, target),
        "time_to_exact_s": None if exact is None else time_to_target(table, exact),
        "best_score": float(complete["score"].max()) if len(complete) else None,
        "best_at": {
            f"{round(100 * fraction)}%": best_by(table, fraction * grid_wall_s)
            for fraction in BUDGET_FRACTIONS
        },
        "best_at_wall": best_by(table, grid_wall_s),
        "boosting_s": float(table["boosting_s"].sum()),
        "n_trials": len(table),
        "n_complete": len(complete),
        "n_pruned": int(table["pruned"].sum()),
        "last_end_s": float(table["end_s"].max()) if len(table) else 0.0,
    }


def median_with_missing(values: list[float | None], missing: float) -> float | None:
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
        "time_to_target_s": median_with_missing(reached, math.inf),
        "seeds_reached": sum(value is not None for value in reached),
        "time_to_exact_s": median_with_missing(
            [figures.get("time_to_exact_s") for figures in per_seed], math.inf
        ),
        "n_seeds": len(per_seed),
        "best_score": median_with_missing(
            [figures["best_score"] for figures in per_seed], -math.inf
        ),
        "best_at": {
            key: median_with_missing([figures["best_at"][key] for figures in per_seed], -math.inf)
            for key in per_seed[0]["best_at"]
        }
        if per_seed
        else {},
        "best_at_wall": median_with_missing(
            [figures.get("best_at_wall") for figures in per_seed], -math.inf
        ),
        "boosting_s": median_with_missing(
            [figures["boosting_s"] for figures in per_seed], math.inf
        ),
        "n_trials": median_with_missing([figures["n_trials"] for figures in per_seed], math.inf),
        "n_pruned": median_with_missing([figures["n_pruned"] for figures in per_seed], math.inf),
    }


def speedups(medians: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """speedup_vs_grid (grid's time to target / the best of ours', among OURS_FAST),
    speedup_vs_best_peer (the fastest peer's / ours) and speedup_vs_grid_exact (the same best
    method's ratio for the no-slack target), from the medians; None where a side is missing or
    never reached the target."""

    def seconds(method: str, key: str = "time_to_target_s") -> float | None:
        return medians.get(method, {}).get(key)

    ours = {name: seconds(name) for name in OURS_FAST if seconds(name) is not None}
    peers = {name: seconds(name) for name in PEERS if seconds(name) is not None}
    best_ours = min(ours, key=ours.__getitem__) if ours else None
    fastest_peer = min(peers, key=peers.__getitem__) if peers else None
    grid_s, grid_exact_s = seconds(GRID), seconds(GRID, "time_to_exact_s")
    ours_s = ours.get(best_ours) if best_ours else None
    ours_exact_s = seconds(best_ours, "time_to_exact_s") if best_ours else None
    return {
        "best_ours": best_ours,
        "fastest_peer": fastest_peer,
        "speedup_vs_grid": grid_s / ours_s if grid_s and ours_s else None,
        "speedup_vs_best_peer": peers[fastest_peer] / ours_s if fastest_peer and ours_s else None,
        "speedup_vs_grid_exact": grid_exact_s / ours_exact_s
        if grid_exact_s and ours_exact_s
        else None,
    }


def _by_seed(runs: list[dict[str, Any]], method: str | None) -> dict[int, dict[str, Any]]:
    return {
        run["seed"]: run["figures"] for run in runs if run["method"] == method and "figures" in run
    }


def seed_checks(
    runs: list[dict[str, Any]], best_ours: str | None, slack: float = SLACK
) -> dict[str, Any]:
    """Issue 23's per-seed checks, as {"seeds": met, "of": seeds compared} (None when a side
    never ran): `pruned_grid_keeps_winner`, grid_asha's best complete combination within SLACK
    of the full grid's best; `best_at_grid_wall_ge_grid`, the best of ours (`best_ours`) scoring
    at least the grid's best - `slack` by the grid's wall."""
    grid = {seed: figures["best_score"] for seed, figures in _by_seed(runs, GRID).items()}

    def count(method: str | None, key: str, tolerance: float) -> dict[str, int] | None:
        scores = {
            seed: figures[key]
            for seed, figures in _by_seed(runs, method).items()
            if grid.get(seed) is not None
        }
        if not scores:
            return None
        met = sum(
            score is not None and score >= grid[seed] - tolerance - SCORE_TOLERANCE
            for seed, score in scores.items()
        )
        return {"seeds": met, "of": len(scores)}

    return {
        "pruned_grid_keeps_winner": count(GRID_ASHA, "best_score", SLACK),
        "best_at_grid_wall_ge_grid": count(best_ours, "best_at_wall", slack),
    }
