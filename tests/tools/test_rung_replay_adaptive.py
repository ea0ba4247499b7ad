"""tools/rung_replay_adaptive.py: rows replayed in an adaptive search's order, and the diagnostics."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from spark_lgbm_tuning.pipelines.tuning.search_params import RoundPruningParams
from tests.tools.rung_rows import (
    ASHA,
    PARAMS,
    adaptive_rows,
    crossing_rows,
    fast_curve,
    replay_row,
    slow_curve,
)
from tools import rung_replay_adaptive, rung_replay_rows
from tools.benchmark_setup import Settings
from tools.ttt_space import TTT_SIZES


def test_the_adaptive_order_runs_the_fold_with_the_fewest_training_rows_first():
    assert rung_replay_adaptive.fold_order(adaptive_rows(["fast0", "slow"])) == [1, 0]


@pytest.mark.parametrize(
    ("exempt", "pruned_by_fold", "keeps_winner"),
    [
        (0, "1:1 0:0", False),  # the cheapest fold (1) decides at round 25: the winner is lost
        (1, "1:0 0:1", False),  # fold 1 runs unpruned, fold 0 decides and loses it
        (2, "1:0 0:0", True),  # no fold decides
    ],
)
def test_exempt_folds_withhold_the_cheapest_folds_thresholds(exempt, pruned_by_fold, keeps_winner):
    rows = adaptive_rows(["fast0", "fast1", "slow"])
    result = rung_replay_adaptive.replay_adaptive(
        rows, ASHA, PARAMS, slots=1, exempt_smallest_folds=exempt
    )

    assert result["pruned_by_fold"] == pruned_by_fold
    assert result["keeps_winner"] is keeps_winner
    assert result["winner_pruned_on"] == {0: 1, 1: 0, 2: None}[exempt]
    assert result["n_complete"] == (3 if keeps_winner else 2)
    assert result["gap"] == pytest.approx(0.0 if keeps_winner else 0.05)
    assert result["within_tolerance"] is keeps_winner


@pytest.mark.parametrize(("min_complete", "keeps_winner"), [(0, False), (2, False), (3, True)])
def test_no_thresholds_until_min_complete_combinations_completed(min_complete, keeps_winner):
    # One slot: fast0 and fast1 complete both folds before slow starts.
    rows = adaptive_rows(["fast0", "fast1", "slow", "fast2"])
    result = rung_replay_adaptive.replay_adaptive(
        rows, ASHA, PARAMS, slots=1, min_complete=min_complete
    )

    assert result["keeps_winner"] is keeps_winner
    # Unpruned: 4 combinations x 2 folds x 400 rounds. fast0, fast1, then slow's two folds.
    assert result["rounds_to_winner"] == (pytest.approx(2400 / 3200) if keeps_winner else None)
    assert result["rounds_to_target"] == result["rounds_to_winner"]
    assert result["rounds_share"] < 1.0


def test_a_fold_still_running_gives_no_threshold():
    rows = adaptive_rows(["fast0", "fast1", "slow"])
    one = rung_replay_adaptive.replay_adaptive(rows, ASHA, PARAMS, slots=1)
    # Three slots: the three combinations' cheapest folds start together, none with thresholds;
    # their second folds start together once those end, again with none of their own fold's.
    three = rung_replay_adaptive.replay_adaptive(rows, ASHA, PARAMS, slots=3)

    assert (one["keeps_winner"], three["keeps_winner"]) == (False, True)
    assert three["rounds_share"] == 1.0 and three["rounds_to_winner"] == 1.0


def test_no_pruning_completes_every_combination_and_names_no_setting():
    rows = adaptive_rows(["fast0", "slow", "fast1"])
    result = rung_replay_adaptive.replay_adaptive(rows, RoundPruningParams(rule="none"), PARAMS)

    assert result["n_complete"] == 3 and result["rounds_share"] == 1.0
    assert result["eta"] is None and result["min_rounds"] is None
    assert "| none | - | - |" in rung_replay_rows.markdown(
        [result], rung_replay_adaptive.ADAPTIVE_COLUMNS
    )


def test_settings_rank_by_kept_winner_then_rounds_until_found():
    results = [
        {"name": "lost", "keeps_winner": False, "rounds_to_target": 0.1, "rounds_share": 0.1},
        {"name": "never", "keeps_winner": True, "rounds_to_target": None, "rounds_share": 0.2},
        {"name": "late", "keeps_winner": True, "rounds_to_target": 0.8, "rounds_share": 0.3},
        {"name": "soon", "keeps_winner": True, "rounds_to_target": 0.4, "rounds_share": 0.9},
    ]

    assert [result["name"] for result in rung_replay_adaptive.ranked(results)] == [
        "soon",
        "late",
        "never",
        "lost",
    ]


MEANS = {f"c{i}": 0.9 - 0.01 * i for i in range(6)}  # c0 ends best


def test_a_rung_that_ranks_as_the_end_keeps_the_winner():
    found = rung_replay_adaptive.decision_diagnostics(dict(MEANS), MEANS, ASHA)

    assert found == {
        "n": 6,
        "spearman": pytest.approx(1.0),
        "winner_rank": 1,
        "prunes_winner": False,
        "prunes_winner_rate": 0.0,
    }


def test_a_rung_that_ranks_against_the_end_prunes_the_winner_of_every_half():
    reversed_scores = {combo: -mean for combo, mean in MEANS.items()}
    found = rung_replay_adaptive.decision_diagnostics(reversed_scores, MEANS, ASHA)

    assert found["spearman"] == pytest.approx(-1.0)
    assert found["winner_rank"] == 6
    assert found["prunes_winner"] is True and found["prunes_winner_rate"] == 1.0


def test_margin_keeps_a_winner_just_below_the_threshold_and_no_score_cannot_prune():
    scores = {**MEANS, "c0": MEANS["c2"] - 0.001}  # third of six: below the top 2
    loose = RoundPruningParams(rule="asha", eta=3, margin=0.002)

    assert rung_replay_adaptive.decision_diagnostics(scores, MEANS, ASHA)["prunes_winner"] is True
    assert rung_replay_adaptive.decision_diagnostics(scores, MEANS, loose)["prunes_winner"] is False
    without = rung_replay_adaptive.decision_diagnostics(
        {k: MEANS[k] for k in ("c1", "c2")}, MEANS, ASHA
    )
    assert without["winner_rank"] is None and without["prunes_winner"] is None
    assert without["spearman"] is None  # two values say nothing


def test_diagnostics_see_the_curves_cross_between_early_rungs_and_the_end():
    rows = crossing_rows()
    found = {
        entry["round"]: entry
        for entry in rung_replay_adaptive.diagnostics(rows, PARAMS, [25, 300], ASHA)
    }

    assert found[25]["winner_rank"] == 6 and found[25]["prunes_winner"] is True
    assert found[25]["spearman"] < 0
    assert found[300]["winner_rank"] == 1 and found[300]["prunes_winner"] is False
    # The fold-wise view: the fold's own primary metric ranks the winner first.
    assert found["final"]["winner_rank"] == 1 and found["final"]["n_train"] == 100


def test_adaptive_mode_records_drawn_combinations_and_reports(project_root):
    settings = Settings(project=project_root)
    size = TTT_SIZES["tiny"]
    params, rows, combinations = rung_replay_rows.record_adaptive_rows(
        size, settings.conf, settings.columns, 3, sample_seed=1
    )

    assert len(combinations) == 3 and len(rows) == 3 * size.folds
    assert [row["combo_id"] for row in rows[:3]] == ["c0", "c1", "c2"]
    assert json.loads(rows[0]["params_json"])["num_leaves"] == combinations[0]["num_leaves"]
    results = rung_replay_adaptive.replay_adaptive_all(rows, params)
    assert results[0]["rule"] == "none" and results[0]["n_complete"] == 3
    # Only settings with a rung below tiny's 60-round cap (min_rounds 25).
    assert {result["min_rounds"] for result in results[1:]} == {25}
    found = rung_replay_adaptive.diagnostics(rows, params, [25], RoundPruningParams(rule="asha"))
    report = rung_replay_adaptive.adaptive_markdown(
        results, found, RoundPruningParams(rule="asha"), 5
    )
    assert "## Settings ranked" in report and "| fold_id | n_train | round |" in report
    assert pd.notna(found[0]["n_train"])


@pytest.mark.parametrize(("rung_folds", "keeps_winner"), [(0, False), (1, True)])
def test_rung_folds_judges_a_combination_on_its_first_folds_only(rung_folds, keeps_winner):
    # The winner starts well on the cheap fold (1) and slowly on the other (0), where rungs at
    # round 25 would stop it: judged on its first fold only, it completes.
    rows = [
        *(replay_row(f"fast{i}", fast_curve(i), 0.90, 1, 100) for i in range(2)),
        replay_row("slow", fast_curve(0), 0.95, 1, 100),
        *(replay_row(f"fast{i}", fast_curve(i), 0.90, 0, 200) for i in range(2)),
        replay_row("slow", slow_curve, 0.95, 0, 200),
    ]
    result = rung_replay_adaptive.replay_adaptive(
        rows, ASHA, PARAMS, slots=1, rung_folds=rung_folds
    )

    assert result["keeps_winner"] is keeps_winner
    assert result["rung_folds"] == rung_folds
    assert result["winner_pruned_on"] == (None if keeps_winner else 0)
