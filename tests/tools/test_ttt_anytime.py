"""Anytime figures: best-known, regret of a hand-computed step curve, budget fractions, the goal
keys per dataset and their medians over datasets."""

from __future__ import annotations

import pandas as pd
import pytest

from tools.ttt_anytime import (
    anytime_regret,
    best_at_fractions,
    best_known,
    dataset_goals,
    keeps_winner,
    method_medians,
    overall,
    scored,
    seconds_to,
    seed_round,
    worst_score,
)


def _table(points: list[tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame(points, columns=["end_s", "score"])


# Budget 100 s. a: 0.80 at 10 s, 0.90 at 50 s; b: 0.70 at 20 s, 0.95 at 120 s (past budget).
A = _table([(10.0, 0.80), (50.0, 0.90)])
B = _table([(20.0, 0.70), (120.0, 0.95)])


def test_best_known_and_worst_only_count_scores_within_the_budget():
    assert best_known([A, B], 100.0) == 0.90  # b's 0.95 came after the budget
    assert worst_score([A, B], 100.0) == 0.70
    assert best_known([A, B], 200.0) == 0.95
    assert best_known([_table([])], 100.0) is None


def test_regret_of_a_hand_computed_step_curve():
    # best 0.90, worst 0.70: gap 0.20 over [0, 10), 0.10 over [10, 50), 0 over [50, 100].
    regret = anytime_regret(A, best=0.90, worst=0.70, budget_s=100.0)
    assert regret == pytest.approx((0.20 * 10 + 0.10 * 40 + 0.0 * 50) / 100)
    # b: 0.20 until 20 s (its first score is the worst), then 0.20 to the end; 0.95 is too late.
    assert anytime_regret(B, best=0.90, worst=0.70, budget_s=100.0) == pytest.approx(0.20)
    # Nothing scored: the whole budget at the worst gap.
    assert anytime_regret(_table([]), best=0.9, worst=0.7, budget_s=50.0) == pytest.approx(0.2)


def test_regret_is_zero_for_the_best_at_once_and_refuses_no_budget():
    assert anytime_regret(_table([(0.0, 0.9)]), best=0.9, worst=0.7, budget_s=10.0) == 0.0
    with pytest.raises(ValueError, match="budget_s"):
        anytime_regret(A, best=0.9, worst=0.7, budget_s=0.0)


def test_best_at_fractions_of_the_budget():
    assert best_at_fractions(A, 100.0) == {"25%": 0.80, "50%": 0.90, "100%": 0.90}
    assert best_at_fractions(B, 80.0) == {"25%": 0.70, "50%": 0.70, "100%": 0.70}
    assert best_at_fractions(B, 10.0)["25%"] is None


def test_scored_keeps_complete_evaluations_in_time_order():
    table = pd.DataFrame(
        {"end_s": [5.0, 1.0, 3.0], "score": [0.8, float("nan"), 0.7], "complete": [1, 0, 1]}
    ).astype({"complete": bool})
    assert scored(table).to_dict("list") == {"end_s": [3.0, 5.0], "score": [0.7, 0.8]}


def test_seed_round_targets_best_known_and_the_grid():
    grid = _table([(30.0, 0.85), (90.0, 0.88)])
    round_ = seed_round({"grid": grid, "a": A, "b": B}, budget_s=100.0, slack=0.01)
    assert round_["best_known"] == 0.90
    assert round_["grid_best"] == 0.88
    a = round_["methods"]["a"]
    assert a["time_to_best_known_s"] == 50.0  # 0.90 >= 0.89
    assert a["time_to_grid_s"] == 50.0  # 0.80 < 0.87 at 10 s
    assert round_["methods"]["grid"]["time_to_best_known_s"] is None
    assert round_["methods"]["grid"]["time_to_grid_s"] == 90.0
    assert round_["methods"]["b"]["time_to_best_known_s"] is None
    assert seconds_to(A, None) is None


def _medians(time_s, grid_s, at_budget, regret):
    return {
        "time_to_best_known_s": time_s,
        "time_to_grid_s": grid_s,
        "best_at": {"25%": None, "50%": None, "100%": at_budget},
        "regret": regret,
    }


def test_dataset_goals_pick_each_keys_best_peer():
    medians = {
        "grid": _medians(None, 80.0, 0.88, 0.05),
        "ours": _medians(20.0, 10.0, 0.90, 0.01),
        # p1 is the fastest peer, p2 the best at the budget and the least regret.
        "p1": _medians(40.0, 30.0, 0.87, 0.04),
        "p2": _medians(60.0, 50.0, 0.89, 0.02),
        "p3": _medians(None, None, None, None),
    }
    goals = dataset_goals(medians, "ours", ["p1", "p2", "p3", "absent"])
    assert goals["best_peer_at_budget"] == "p2"
    assert goals["best_at_budget_minus_best_peer"] == pytest.approx(0.01)
    assert goals["regret_vs_best_peer"] == pytest.approx(0.5)
    assert goals["fastest_peer"] == "p1"
    assert goals["speedup_vs_best_peer"] == pytest.approx(2.0)
    assert goals["speedup_vs_grid"] == pytest.approx(8.0)


def test_dataset_goals_are_none_where_ours_never_got_there():
    medians = {"ours": _medians(None, None, None, None), "p1": _medians(5.0, 5.0, 0.9, 0.1)}
    goals = dataset_goals(medians, "ours", ["p1"])
    assert goals["speedup_vs_best_peer"] is None
    assert goals["best_at_budget_minus_best_peer"] is None
    assert goals["speedup_vs_grid"] is None


def test_method_medians_count_a_miss_as_infinitely_slow():
    per_seed = [
        {
            "time_to_best_known_s": 10.0,
            "time_to_grid_s": 5.0,
            "best_at": {"100%": 0.9},
            "regret": 0.1,
        },
        {
            "time_to_best_known_s": None,
            "time_to_grid_s": 7.0,
            "best_at": {"100%": 0.8},
            "regret": 0.3,
        },
        {
            "time_to_best_known_s": None,
            "time_to_grid_s": 9.0,
            "best_at": {"100%": None},
            "regret": 0.2,
        },
    ]
    medians = method_medians(per_seed)
    assert medians["time_to_best_known_s"] is None  # 2 of 3 seeds never got there
    assert medians["time_to_grid_s"] == 7.0
    assert medians["best_at"]["100%"] == 0.8
    assert medians["regret"] == 0.2


def test_keeps_winner_counts_seeds_within_slack():
    rounds = [
        {"grid_best": 0.90, "pruned_grid_best": 0.8996},
        {"grid_best": 0.90, "pruned_grid_best": 0.899},
        {"grid_best": 0.90, "pruned_grid_best": None},
        {"grid_best": 0.90},  # grid_asha did not run
    ]
    assert keeps_winner(rounds, slack=0.0005) == {"seeds": 1, "of": 3}
    assert keeps_winner([{"grid_best": 0.9}]) is None


def test_overall_takes_medians_over_datasets_and_keeps_winner_per_dataset():
    datasets = {
        "d1": {
            "speedup_vs_grid": 2.0,
            "regret_vs_best_peer": 0.5,
            "pruned_grid_keeps_winner": {"seeds": 3, "of": 3},
        },
        "d2": {"speedup_vs_grid": 4.0, "regret_vs_best_peer": None},
        "d3": {"speedup_vs_grid": 10.0, "regret_vs_best_peer": 1.5},
    }
    result = overall(datasets)
    assert result["speedup_vs_grid"] == 4.0
    assert result["regret_vs_best_peer"] == 1.0
    assert result["regret_vs_best_peer_datasets"] == 2
    assert result["speedup_vs_best_peer"] is None
    assert result["pruned_grid_keeps_winner"] == {
        "d1": {"seeds": 3, "of": 3},
        "d2": None,
        "d3": None,
    }
