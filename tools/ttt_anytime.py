"""Anytime figures of the multi-dataset time-to-target benchmark (issue 31): what a user gets by
any moment of the budget, judged against the best model any method found, not the grid's.

Pure functions of *scored* tables (`end_s`, `score`: one row per complete evaluation, seconds
from the method's start); no Spark, no timing. Per dataset and seed:
- `best_known`: the best mean AUC any method reached within the budget (the grid's wall);
- targets: best-known − slack and the grid's best − slack;
- per method: seconds to each target, the best score at 25 / 50 / 100 % of the budget, and the
  anytime regret: the area between the best-so-far curve and best-known over the budget, divided
  by the budget. Before a method's first score the gap counts as best-known − the worst score any
  method reached within the budget on that dataset and seed (no model yet is at least that bad).
Medians over seeds per dataset, then the goal keys, then their medians over datasets.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from tools.ttt_figures import GRID, GRID_ASHA, PEERS, SCORE_TOLERANCE, SLACK, median_with_missing

# Fractions of the budget at which every method's best score is read (issue 31).
ANYTIME_FRACTIONS = (0.25, 0.50, 1.0)
# The goal keys, per dataset and as medians over datasets in `overall`.
GOAL_KEYS = (
    "best_at_budget_minus_best_peer",
    "regret_vs_best_peer",
    "speedup_vs_best_peer",
    "speedup_vs_grid",
)
KEEPS_WINNER = "pruned_grid_keeps_winner"


def scored(table: pd.DataFrame) -> pd.DataFrame:
    """The complete evaluations of an evaluations table as (end_s, score), by end_s."""
    done = table[table["complete"]] if "complete" in table else table
    return done[["end_s", "score"]].sort_values("end_s", ignore_index=True)


def _within(table: pd.DataFrame, budget_s: float) -> pd.Series:
    return table.loc[table["end_s"] <= budget_s, "score"]


def best_known(tables: Iterable[pd.DataFrame], budget_s: float) -> float | None:
    """The best score any table reached within the budget; None when none scored."""
    scores = [score for table in tables for score in _within(table, budget_s)]
    return max(scores) if scores else None


def worst_score(tables: Iterable[pd.DataFrame], budget_s: float) -> float | None:
    """The worst score any table reached within the budget: the gap before a first score."""
    scores = [score for table in tables for score in _within(table, budget_s)]
    return min(scores) if scores else None


def best_at_fractions(
    table: pd.DataFrame, budget_s: float, fractions: tuple[float, ...] = ANYTIME_FRACTIONS
) -> dict[str, float | None]:
    """{"25%": best score by 25 % of the budget, ...}; None where nothing was scored yet."""
    result = {}
    for fraction in fractions:
        scores = _within(table, fraction * budget_s)
        result[f"{round(100 * fraction)}%"] = float(scores.max()) if len(scores) else None
    return result


def seconds_to(table: pd.DataFrame, target: float | None) -> float | None:
    """Seconds until a score >= target (float noise allowed); None if never or no target."""
    if target is None:
        return None
    hits = table.loc[table["score"] >= target - SCORE_TOLERANCE, "end_s"]
    return float(hits.min()) if len(hits) else None


def anytime_regret(table: pd.DataFrame, *, best: float, worst: float, budget_s: float) -> float:
    """∫ over [0, budget] of (best − best so far) dt / budget; the gap is best − worst until
    the first score. A method that scored best-known at 0 s has regret 0."""
    if budget_s <= 0:
        raise ValueError(f"budget_s must be > 0, got {budget_s}")
    area, last_s, gap = 0.0, 0.0, best - worst
    running = -math.inf
    for end_s, score in table[table["end_s"] <= budget_s][["end_s", "score"]].itertuples(
        index=False
    ):
        area += gap * (max(end_s, 0.0) - last_s)
        last_s = max(end_s, 0.0)
        running = max(running, score)
        gap = max(best - running, 0.0)
    area += gap * (budget_s - last_s)
    return area / budget_s


def seed_figures(
    table: pd.DataFrame,
    *,
    budget_s: float,
    best: float,
    worst: float,
    grid_best: float | None,
    slack: float = SLACK,
) -> dict[str, Any]:
    """One method's anytime figures on one dataset and seed (`table`: `scored`'s form); a
    target reached only after the budget counts as not reached."""
    within = table[table["end_s"] <= budget_s]
    return {
        "time_to_best_known_s": seconds_to(within, best - slack),
        "time_to_grid_s": seconds_to(within, None if grid_best is None else grid_best - slack),
        "best_at": best_at_fractions(table, budget_s),
        "regret": anytime_regret(table, best=best, worst=worst, budget_s=budget_s),
    }


def seed_round(
    tables: Mapping[str, pd.DataFrame], budget_s: float, slack: float = SLACK
) -> dict[str, Any]:
    """Every method's figures on one dataset and seed, against that round's best-known and
    worst score (within the budget) and the grid's best (its complete run: no budget)."""
    best = best_known(tables.values(), budget_s)
    worst = worst_score(tables.values(), budget_s)
    grid = tables.get(GRID)
    grid_best = float(grid["score"].max()) if grid is not None and len(grid) else None
    figures = (
        {}
        if best is None or worst is None
        else {
            method: seed_figures(
                table, budget_s=budget_s, best=best, worst=worst, grid_best=grid_best, slack=slack
            )
            for method, table in tables.items()
        }
    )
    return {
        "budget_s": budget_s,
        "best_known": best,
        "worst_score": worst,
        "grid_best": grid_best,
        "methods": figures,
    }


def method_medians(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over seeds: a target never reached counts as infinitely slow, a best score
    not yet there as -inf (None when that wins the median)."""
    keys = per_seed[0]["best_at"] if per_seed else {}
    return {
        "n_seeds": len(per_seed),
        "time_to_best_known_s": median_with_missing(
            [figures["time_to_best_known_s"] for figures in per_seed], math.inf
        ),
        "time_to_grid_s": median_with_missing(
            [figures["time_to_grid_s"] for figures in per_seed], math.inf
        ),
        "best_at": {
            key: median_with_missing([figures["best_at"][key] for figures in per_seed], -math.inf)
            for key in keys
        },
        "regret": median_with_missing([figures["regret"] for figures in per_seed], math.inf),
    }


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator and denominator else None


def dataset_goals(
    medians: Mapping[str, dict[str, Any]], ours: str, peers: Iterable[str]
) -> dict[str, Any]:
    """The goal keys of one dataset from its per-method medians; each 'best peer' is the best
    on that key (highest best at budget, lowest regret, fastest to best-known − slack).
    None where a side is missing or never got there."""
    ran = [name for name in peers if name in medians]
    mine = medians.get(ours, {})
    at_budget = {
        name: medians[name]["best_at"].get("100%")
        for name in ran
        if medians[name]["best_at"].get("100%") is not None
    }
    regrets = {name: medians[name]["regret"] for name in ran if medians[name]["regret"] is not None}
    speeds = {
        name: medians[name]["time_to_best_known_s"]
        for name in ran
        if medians[name]["time_to_best_known_s"] is not None
    }
    best_peer = max(at_budget, key=at_budget.__getitem__) if at_budget else None
    least_regret = min(regrets, key=regrets.__getitem__) if regrets else None
    fastest = min(speeds, key=speeds.__getitem__) if speeds else None
    ours_at_budget = mine.get("best_at", {}).get("100%")
    grid_s = medians.get(GRID, {}).get("time_to_grid_s")
    return {
        "ours": ours,
        "best_peer_at_budget": best_peer,
        "least_regret_peer": least_regret,
        "fastest_peer": fastest,
        "best_at_budget_minus_best_peer": ours_at_budget - at_budget[best_peer]
        if ours_at_budget is not None and best_peer
        else None,
        "regret_vs_best_peer": _ratio(mine.get("regret"), regrets.get(least_regret)),
        "speedup_vs_best_peer": _ratio(speeds.get(fastest), mine.get("time_to_best_known_s")),
        "speedup_vs_grid": _ratio(grid_s, mine.get("time_to_grid_s")),
    }


def keeps_winner(rounds: list[dict[str, Any]], slack: float = SLACK) -> dict[str, int] | None:
    """{"seeds": k, "of": n}: seeds where grid_asha's best is within `slack` of the grid's."""
    pairs = [
        (round_["grid_best"], round_["pruned_grid_best"])
        for round_ in rounds
        if round_.get("grid_best") is not None and "pruned_grid_best" in round_
    ]
    if not pairs:
        return None
    kept = sum(
        pruned is not None and pruned >= grid - slack - SCORE_TOLERANCE for grid, pruned in pairs
    )
    return {"seeds": kept, "of": len(pairs)}


def pruned_grid_best(tables: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """{"pruned_grid_best": grid_asha's best complete score} when grid_asha ran, else {}."""
    if GRID_ASHA not in tables:
        return {}
    table = tables[GRID_ASHA]
    return {"pruned_grid_best": float(table["score"].max()) if len(table) else None}


def overall(datasets: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """Medians over datasets of the goal keys (datasets where a key is None are left out, and
    counted), and pruned_grid_keeps_winner per dataset."""
    result: dict[str, Any] = {}
    for key in GOAL_KEYS:
        values = [goals[key] for goals in datasets.values() if goals.get(key) is not None]
        result[key] = statistics.median(values) if values else None
        result[f"{key}_datasets"] = len(values)
    result[KEEPS_WINNER] = {name: goals.get(KEEPS_WINNER) for name, goals in datasets.items()}
    result["n_datasets"] = len(datasets)
    return result


def dataset_summary(
    recorded: dict[str, Any],
    rounds: list[dict[str, Any]],
    runs: list[dict[str, Any]],
    methods: list[str],
    *,
    ours: str,
    slack: float = SLACK,
) -> dict[str, Any]:
    """One dataset's report: its rounds (one per seed), medians over seeds per method, the goal
    keys, pruned_grid_keeps_winner, failures, and each method's scores per seed (the curves)."""
    per_method = {
        method: [
            round_["methods"][method] for round_ in rounds if method in round_.get("methods", {})
        ]
        for method in methods
    }
    medians = {method: method_medians(figures) for method, figures in per_method.items() if figures}
    return {
        "data": recorded,
        "rounds": rounds,
        "methods": medians,
        **dataset_goals(medians, ours, [method for method in methods if method in PEERS]),
        KEEPS_WINNER: keeps_winner(rounds, slack),
        "scored": [
            {"method": run["method"], "seed": run["seed"], **run["scored"]}
            for run in runs
            if "scored" in run
        ],
        "errors": [
            {"method": run["method"], "seed": run["seed"], "error": run["error"]}
            for run in runs
            if "error" in run
        ],
    }
