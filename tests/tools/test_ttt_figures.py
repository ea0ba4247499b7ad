"""Time to target from a results table, fixed-budget scores, medians over seeds, speed-ups."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from tools.ttt_figures import (
    best_by,
    best_curve,
    evaluations,
    evaluations_from_results,
    method_medians,
    seed_checks,
    seed_figures,
    speedups,
    time_to_target,
)

START = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _results(rows: list[tuple[str, int, str, float | None, float, float]]) -> pd.DataFrame:
    """tuning_results rows: (combo_id, fold_id, status, auc_roc, fit_s, ended seconds)."""
    return pd.DataFrame(
        [
            {
                "trial_id": f"{combo}-{fold}",
                "combo_id": combo,
                "fold_id": fold,
                "status": status,
                "auc_roc": auc,
                "fit_s": fit_s,
                "ended_at": START + timedelta(seconds=ended),
            }
            for combo, fold, status, auc, fit_s, ended in rows
        ]
    )


RESULTS = _results(
    [
        # a: both folds ok, mean 0.80, its last fold ends at 30 s.
        ("a", 0, "ok", 0.70, 1.0, 10.0),
        ("a", 1, "ok", 0.90, 2.0, 30.0),
        # b: mean 0.85, complete at 20 s (folds end out of order).
        ("b", 1, "ok", 0.86, 1.5, 20.0),
        ("b", 0, "ok", 0.84, 1.5, 12.0),
        # c: pruned after fold 0 (a high fold score that must not count).
        ("c", 0, "ok", 0.99, 0.5, 5.0),
        ("c", 1, "pruned", None, None, 6.0),
        # d: one fold failed: incomplete.
        ("d", 0, "ok", 0.95, 1.0, 40.0),
        ("d", 1, "failed", None, 0.0, 41.0),
    ]
)


@pytest.fixture
def table() -> pd.DataFrame:
    return evaluations_from_results(RESULTS, START.isoformat(), n_folds=2)


def test_a_combination_counts_only_once_every_fold_is_ok(table):
    by_end = table.set_index("end_s")
    assert list(table["end_s"]) == [6.0, 20.0, 30.0, 41.0]
    assert by_end.loc[20.0, "score"] == pytest.approx(0.85)
    assert by_end.loc[30.0, "score"] == pytest.approx(0.80)
    assert list(table["complete"]) == [False, True, True, False]
    assert list(table["pruned"]) == [True, False, False, False]
    assert math.isnan(by_end.loc[6.0, "score"]) and math.isnan(by_end.loc[41.0, "score"])
    assert table["boosting_s"].sum() == pytest.approx(7.5)  # null fit_s of the pruned fold: 0


def test_a_naive_start_time_is_read_as_utc(table):
    naive = evaluations_from_results(RESULTS, "2026-12-03T12:00:00", n_folds=2)
    pd.testing.assert_frame_equal(naive, table)


def test_time_to_target_is_the_first_complete_combination_at_or_above_it(table):
    assert time_to_target(table, 0.85) == 20.0
    assert time_to_target(table, 0.80) == 20.0
    # No slack: a hair above the best complete score is never reached (c's 0.99 fold is pruned).
    assert time_to_target(table, 0.85 + 1e-9) is None
    # Float noise in the mean is not a miss.
    assert time_to_target(table, (0.84 + 0.86) / 2 + 1e-13) == 20.0


def test_best_score_at_a_budget_counts_only_what_was_complete_by_then(table):
    assert best_by(table, 19.9) is None
    assert best_by(table, 20.0) == pytest.approx(0.85)
    assert best_by(table, 100.0) == pytest.approx(0.85)


def test_the_best_curve_steps_only_when_the_best_rises():
    rows = [
        {"end_s": t, "score": s, "complete": c, "pruned": False, "n_folds": 2, "boosting_s": 1.0}
        for t, s, c in [
            (1.0, 0.7, True),
            (2.0, 0.6, True),
            (3.0, math.nan, False),
            (4.0, 0.8, True),
        ]
    ]
    curve = best_curve(evaluations(rows))
    assert curve.to_dict("list") == {"end_s": [1.0, 4.0], "best": [0.7, 0.8]}


def test_seed_figures_read_the_budgets_as_fractions_of_the_grids_wall(table):
    figures = seed_figures(table, target=0.85, grid_wall_s=100.0)
    assert figures["time_to_target_s"] == 20.0
    assert figures["best_score"] == pytest.approx(0.85)
    assert figures["best_at"] == {
        "10%": None,
        "25%": pytest.approx(0.85),
        "50%": pytest.approx(0.85),
    }
    assert (figures["n_trials"], figures["n_complete"], figures["n_pruned"]) == (4, 2, 1)
    assert figures["boosting_s"] == pytest.approx(7.5) and figures["last_end_s"] == 41.0
    missed = seed_figures(table, target=0.9, grid_wall_s=100.0)
    assert missed["time_to_target_s"] is None and missed["best_score"] == pytest.approx(0.85)


def test_seed_figures_time_the_exact_target_and_read_the_best_at_the_grids_wall():
    rows = [
        {"end_s": t, "score": s, "complete": True, "pruned": False, "n_folds": 4, "boosting_s": 1.0}
        for t, s in [(10.0, 0.8996), (30.0, 0.9)]
    ]
    table = evaluations(rows)
    # Within the slack at 10 s, the grid's best itself only at 30 s.
    figures = seed_figures(table, target=0.9 - 0.0005, grid_wall_s=20.0, exact=0.9)
    assert figures["time_to_target_s"] == 10.0 and figures["time_to_exact_s"] == 30.0
    assert figures["best_at_wall"] == pytest.approx(0.8996)
    early = seed_figures(table, target=0.9 - 0.0005, grid_wall_s=5.0, exact=0.9001)
    assert early["time_to_exact_s"] is None and early["best_at_wall"] is None
    assert seed_figures(table, target=0.8995, grid_wall_s=5.0)["time_to_exact_s"] is None


def _figures(seconds: float | None, at_25: float | None = 0.8) -> dict:
    return {
        "time_to_target_s": seconds,
        "best_score": 0.9,
        "best_at": {"10%": None, "25%": at_25, "50%": 0.9},
        "boosting_s": 10.0,
        "n_trials": 5,
        "n_pruned": 2,
    }


def test_medians_count_a_missed_target_as_infinitely_slow():
    three = method_medians([_figures(10.0), _figures(None), _figures(30.0)])
    assert three["time_to_target_s"] == 30.0 and three["seeds_reached"] == 2
    assert three["n_seeds"] == 3
    # Two misses out of three: the median is "not reached", not the one time that exists.
    assert (
        method_medians([_figures(10.0), _figures(None), _figures(None)])["time_to_target_s"] is None
    )
    # A budget with no complete combination yet counts as the lowest score.
    medians = method_medians([_figures(1.0, None), _figures(1.0, None), _figures(1.0, 0.7)])
    assert medians["best_at"] == {"10%": None, "25%": None, "50%": 0.9}
    assert method_medians([_figures(1.0, 0.6), _figures(1.0, None), _figures(1.0, 0.7)])["best_at"][
        "25%"
    ] == pytest.approx(0.6)


def test_speedups_take_our_best_adaptive_strategy_and_the_fastest_peer():
    medians = {
        "grid": {"time_to_target_s": 100.0, "time_to_exact_s": 120.0},
        "random": {"time_to_target_s": 40.0},
        "tpe": {"time_to_target_s": 20.0, "time_to_exact_s": 60.0},
        "hyperopt": {"time_to_target_s": 50.0},
        "flaml": {"time_to_target_s": None},
        "optuna": {"time_to_target_s": 30.0},
    }
    assert speedups(medians) == {
        "best_ours": "tpe",
        "fastest_peer": "optuna",
        "speedup_vs_grid": 5.0,
        "speedup_vs_best_peer": 1.5,
        # The same method's ratio for the no-slack target (the grid's best itself).
        "speedup_vs_grid_exact": 2.0,
    }


def test_the_best_of_ours_may_be_the_pruned_grid_or_a_round_pruned_search():
    medians = {
        "grid": {"time_to_target_s": 100.0, "time_to_exact_s": 120.0},
        "grid_asha": {"time_to_target_s": 25.0, "time_to_exact_s": None},
        "tpe": {"time_to_target_s": 40.0, "time_to_exact_s": 60.0},
        "optuna_hyperband": {"time_to_target_s": 50.0},
    }
    result = speedups(medians)
    assert result["best_ours"] == "grid_asha" and result["fastest_peer"] == "optuna_hyperband"
    assert result["speedup_vs_grid"] == 4.0 and result["speedup_vs_best_peer"] == 2.0
    # grid_asha never reached the grid's exact best: no exact ratio, not tpe's.
    assert result["speedup_vs_grid_exact"] is None
    medians["tpe_asha"] = {"time_to_target_s": 10.0, "time_to_exact_s": 30.0}
    assert speedups(medians)["best_ours"] == "tpe_asha"
    assert speedups(medians)["speedup_vs_grid_exact"] == 4.0


def _seed_run(method: str, seed: int, best: float | None, at_wall: float | None = None) -> dict:
    return {
        "method": method,
        "seed": seed,
        "figures": {"best_score": best, "best_at_wall": best if at_wall is None else at_wall},
    }


def test_the_pruned_grid_keeps_the_winner_when_its_best_is_within_the_slack():
    runs = [
        _seed_run("grid", 1, 0.9),
        _seed_run("grid_asha", 1, 0.9),  # the winner itself
        _seed_run("grid", 2, 0.9),
        _seed_run("grid_asha", 2, 0.9 - 0.0004),  # another combination, within 0.0005
        _seed_run("grid", 3, 0.9),
        _seed_run("grid_asha", 3, 0.9 - 0.0006),  # lost it
        _seed_run("grid", 4, 0.9),
        _seed_run("grid_asha", 4, None),  # no combination complete
        _seed_run("grid", 5, 0.9),
        {"method": "grid_asha", "seed": 5, "error": "RuntimeError: boom"},  # not compared
    ]
    checks = seed_checks(runs, best_ours=None)
    assert checks["pruned_grid_keeps_winner"] == {"seeds": 2, "of": 4}
    assert checks["best_at_grid_wall_ge_grid"] is None  # no best method of ours
    assert seed_checks(runs[::2], best_ours=None)["pruned_grid_keeps_winner"] is None


def test_the_best_at_the_grids_wall_is_compared_with_the_grids_best_minus_the_slack():
    runs = [
        _seed_run("grid", 1, 0.9),
        _seed_run("tpe_asha", 1, 0.95, at_wall=0.9 - 0.0005),
        _seed_run("grid", 2, 0.9),
        _seed_run("tpe_asha", 2, 0.95, at_wall=0.9 - 0.0006),  # its best came after the wall
        _seed_run("grid", 3, 0.9),
        _seed_run("tpe_asha", 3, None, at_wall=None),
    ]
    checks = seed_checks(runs, best_ours="tpe_asha")
    assert checks["best_at_grid_wall_ge_grid"] == {"seeds": 1, "of": 3}
    assert seed_checks(runs, "tpe_asha", slack=0.001)["best_at_grid_wall_ge_grid"] == {
        "seeds": 2,
        "of": 3,
    }
    assert checks["pruned_grid_keeps_winner"] is None  # no pruned grid ran


def test_speedups_are_none_without_an_adaptive_strategy_that_reached_the_target():
    medians = {"grid": {"time_to_target_s": 100.0}, "tpe": {"time_to_target_s": None}}
    result = speedups(medians)
    assert result["speedup_vs_grid"] is None and result["best_ours"] is None
    assert result["speedup_vs_best_peer"] is None and result["fastest_peer"] is None
