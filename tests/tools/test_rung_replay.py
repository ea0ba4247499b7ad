"""tools/rung_replay.py: the grid's rows replayed through round-wise pruning rules offline."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from spark_lgbm_tuning.pipelines.tuning.search_params import RoundPruningParams
from tests.pipelines.tuning.data import tuning_params
from tools import rung_replay
from tools.benchmark_setup import Settings, Size, make_inputs
from tools.ttt_space import TTT_SIZES

CAP = 400
PARAMS = tuning_params(num_boost_round=CAP)


def _row(combo: str, logloss, auc: float, fold_id: int = 0, n_train: int = 100) -> dict:
    curve = {str(r): logloss(r) for r in range(1, CAP + 1)}
    return {
        "trial_id": f"{combo}-f{fold_id}",
        "combo_id": combo,
        "fold_id": fold_id,
        "n_train": n_train,
        "params_json": json.dumps({"combo": combo}),
        "status": "ok",
        "rung_metric": "binary_logloss",
        "rung_scores": json.dumps(curve),
        "auc_roc": auc,
    }


def _fast(i: int):
    """A fast starter's logloss curve: plateaus at round 50 (fast0 best of them)."""
    return lambda r: 0.5 - 0.1 * min(r, 50) / 50 + 0.001 * i


def _slow(r: int) -> float:
    """The winner's: worst early, best from round ~270."""
    return 0.7 - 0.45 * r / CAP


def _crossing_rows() -> list[dict]:
    """Five fast starters that plateau, then the winner."""
    return [*(_row(f"fast{i}", _fast(i), 0.90) for i in range(5)), _row("slow", _slow, 0.95)]


def _adaptive_rows(order: list[str]) -> list[dict]:
    """Two folds of the crossing combinations in drawn `order`; fold 1 is the cheaper one (100
    training rows against fold 0's 200), so the adaptive order runs it first."""
    rows = []
    for fold_id, n_train in ((0, 200), (1, 100)):
        for combo in order:
            curve, auc = (_slow, 0.95) if combo == "slow" else (_fast(int(combo[-1])), 0.90)
            rows.append(_row(combo, curve, auc, fold_id, n_train))
    return rows


ASHA = RoundPruningParams(rule="asha", eta=3, min_rounds=25, min_trials=2, margin=0.0)


@pytest.mark.parametrize(
    ("min_rounds", "min_trials", "keeps_winner"),
    [
        (25, 2, False),  # judged at round 25, before the curves cross: the winner is lost
        (300, 2, True),  # the first rung after the crossing
        (25, 6, True),  # never 6 runs at a rung before the winner: no pruning at all
    ],
)
def test_early_rungs_lose_a_slow_starting_winner_and_the_protections_keep_it(
    min_rounds, min_trials, keeps_winner
):
    rule = RoundPruningParams(
        rule="asha", eta=3, min_rounds=min_rounds, min_trials=min_trials, margin=0.0
    )
    result = rung_replay.replay(_crossing_rows(), rule, PARAMS, slots=1)

    assert result["keeps_winner"] is keeps_winner
    if keeps_winner:
        assert result["gap"] == 0.0
    else:
        assert result["n_pruned"] >= 1 and result["gap"] == pytest.approx(0.05)
        assert result["rounds_share"] < 1.0


def test_a_size_is_recorded_once_with_every_rounds_score_and_replayed(project_root):
    settings = Settings(project=project_root)
    size = TTT_SIZES["tiny"]
    params, rows = rung_replay.record_rows(size, settings.conf, settings.columns)

    assert len(rows) == params.n_combinations * size.folds
    for row in rows:
        assert row["status"] == "ok" and row["pruned_at_round"] is None
        rounds = sorted(int(rung) for rung in json.loads(row["rung_scores"]))
        assert rounds == list(range(1, rounds[-1] + 1))
    results = rung_replay.replay_all(rows, params)
    assert len(results) == math.prod(len(values) for values in rung_replay.SETTINGS.values())
    assert all(result["n_trials"] == len(rows) for result in results)
    assert "| eta | min_rounds |" in rung_replay.markdown(results)


def test_the_adaptive_order_runs_the_fold_with_the_fewest_training_rows_first():
    assert rung_replay.fold_order(_adaptive_rows(["fast0", "slow"])) == [1, 0]


@pytest.mark.parametrize(
    ("exempt", "pruned_by_fold", "keeps_winner"),
    [
        (0, "1:1 0:0", False),  # the cheapest fold (1) decides at round 25: the winner is lost
        (1, "1:0 0:1", False),  # fold 1 runs unpruned, fold 0 decides and loses it
        (2, "1:0 0:0", True),  # no fold decides
    ],
)
def test_exempt_folds_withhold_the_cheapest_folds_thresholds(exempt, pruned_by_fold, keeps_winner):
    rows = _adaptive_rows(["fast0", "fast1", "slow"])
    result = rung_replay.replay_adaptive(rows, ASHA, PARAMS, slots=1, exempt_smallest_folds=exempt)

    assert result["pruned_by_fold"] == pruned_by_fold
    assert result["keeps_winner"] is keeps_winner
    assert result["winner_pruned_on"] == {0: 1, 1: 0, 2: None}[exempt]
    assert result["n_complete"] == (3 if keeps_winner else 2)
    assert result["gap"] == pytest.approx(0.0 if keeps_winner else 0.05)
    assert result["within_tolerance"] is keeps_winner


@pytest.mark.parametrize(("min_complete", "keeps_winner"), [(0, False), (2, False), (3, True)])
def test_no_thresholds_until_min_complete_combinations_completed(min_complete, keeps_winner):
    # One slot: fast0 and fast1 complete both folds before slow starts.
    rows = _adaptive_rows(["fast0", "fast1", "slow", "fast2"])
    result = rung_replay.replay_adaptive(rows, ASHA, PARAMS, slots=1, min_complete=min_complete)

    assert result["keeps_winner"] is keeps_winner
    # Unpruned: 4 combinations x 2 folds x 400 rounds. fast0, fast1, then slow's two folds.
    assert result["rounds_to_winner"] == (pytest.approx(2400 / 3200) if keeps_winner else None)
    assert result["rounds_to_target"] == result["rounds_to_winner"]
    assert result["rounds_share"] < 1.0


def test_a_fold_still_running_gives_no_threshold():
    rows = _adaptive_rows(["fast0", "fast1", "slow"])
    one = rung_replay.replay_adaptive(rows, ASHA, PARAMS, slots=1)
    # Three slots: the three combinations' cheapest folds start together, none with thresholds;
    # their second folds start together once those end, again with none of their own fold's.
    three = rung_replay.replay_adaptive(rows, ASHA, PARAMS, slots=3)

    assert (one["keeps_winner"], three["keeps_winner"]) == (False, True)
    assert three["rounds_share"] == 1.0 and three["rounds_to_winner"] == 1.0


def test_no_pruning_completes_every_combination_and_names_no_setting():
    rows = _adaptive_rows(["fast0", "slow", "fast1"])
    result = rung_replay.replay_adaptive(rows, RoundPruningParams(rule="none"), PARAMS)

    assert result["n_complete"] == 3 and result["rounds_share"] == 1.0
    assert result["eta"] is None and result["min_rounds"] is None
    assert "| none | - | - |" in rung_replay.markdown([result], rung_replay.ADAPTIVE_COLUMNS)


def test_settings_rank_by_kept_winner_then_rounds_until_found():
    results = [
        {"name": "lost", "keeps_winner": False, "rounds_to_target": 0.1, "rounds_share": 0.1},
        {"name": "never", "keeps_winner": True, "rounds_to_target": None, "rounds_share": 0.2},
        {"name": "late", "keeps_winner": True, "rounds_to_target": 0.8, "rounds_share": 0.3},
        {"name": "soon", "keeps_winner": True, "rounds_to_target": 0.4, "rounds_share": 0.9},
    ]

    assert [result["name"] for result in rung_replay.ranked(results)] == [
        "soon",
        "late",
        "never",
        "lost",
    ]


MEANS = {f"c{i}": 0.9 - 0.01 * i for i in range(6)}  # c0 ends best


def test_a_rung_that_ranks_as_the_end_keeps_the_winner():
    found = rung_replay.decision_diagnostics(dict(MEANS), MEANS, ASHA)

    assert found == {
        "n": 6,
        "spearman": pytest.approx(1.0),
        "winner_rank": 1,
        "prunes_winner": False,
        "prunes_winner_rate": 0.0,
    }


def test_a_rung_that_ranks_against_the_end_prunes_the_winner_of_every_half():
    reversed_scores = {combo: -mean for combo, mean in MEANS.items()}
    found = rung_replay.decision_diagnostics(reversed_scores, MEANS, ASHA)

    assert found["spearman"] == pytest.approx(-1.0)
    assert found["winner_rank"] == 6
    assert found["prunes_winner"] is True and found["prunes_winner_rate"] == 1.0


def test_margin_keeps_a_winner_just_below_the_threshold_and_no_score_cannot_prune():
    scores = {**MEANS, "c0": MEANS["c2"] - 0.001}  # third of six: below the top 2
    loose = RoundPruningParams(rule="asha", eta=3, margin=0.002)

    assert rung_replay.decision_diagnostics(scores, MEANS, ASHA)["prunes_winner"] is True
    assert rung_replay.decision_diagnostics(scores, MEANS, loose)["prunes_winner"] is False
    without = rung_replay.decision_diagnostics({k: MEANS[k] for k in ("c1", "c2")}, MEANS, ASHA)
    assert without["winner_rank"] is None and without["prunes_winner"] is None
    assert without["spearman"] is None  # two values say nothing


def test_diagnostics_see_the_curves_cross_between_early_rungs_and_the_end():
    rows = _crossing_rows()
    found = {
        entry["round"]: entry for entry in rung_replay.diagnostics(rows, PARAMS, [25, 300], ASHA)
    }

    assert found[25]["winner_rank"] == 6 and found[25]["prunes_winner"] is True
    assert found[25]["spearman"] < 0
    assert found[300]["winner_rank"] == 1 and found[300]["prunes_winner"] is False
    # The fold-wise view: the fold's own primary metric ranks the winner first.
    assert found["final"]["winner_rank"] == 1 and found["final"]["n_train"] == 100


def test_combinations_are_drawn_inside_the_ranges_reproducibly():
    ranges = TTT_SIZES["seed"].ranges
    drawn = rung_replay.sample_combinations(ranges, 200, seed=3)

    assert drawn == rung_replay.sample_combinations(ranges, 200, seed=3)
    assert drawn != rung_replay.sample_combinations(ranges, 200, seed=4)
    for name, spec in ranges.items():
        values = np.array([combination[name] for combination in drawn])
        assert spec["low"] <= values.min() and values.max() <= spec["high"]
        assert all(isinstance(value, int) for value in values.tolist()) is bool(spec.get("int"))
    # log: num_leaves 15..2048 has as many draws below ~175 (the geometric middle) as above.
    leaves = np.array([combination["num_leaves"] for combination in drawn])
    assert 0.35 < np.mean(leaves < 175) < 0.65


def test_a_prepared_input_dir_is_read_as_the_synthetic_table(project_root, tmp_path):
    settings = Settings(project=project_root)
    size = TTT_SIZES["tiny"]
    data_size = Size(size.rows, size.features, size.folds, 0, 0, size.num_boost_round, 0, 1)
    data, folds, _ = make_inputs(data_size, 1, settings.conf, settings.columns)
    data.to_parquet(tmp_path / "model_input.parquet")
    folds.to_parquet(tmp_path / "model_folds.parquet")

    read = rung_replay.load_arrays(size, settings.conf, settings.columns, input_dir=tmp_path)
    made = rung_replay.load_arrays(size, settings.conf, settings.columns, seed=1)

    assert np.array_equal(read.x, made.x, equal_nan=True) and np.array_equal(read.y, made.y)
    assert read.rows.keys() == made.rows.keys()
    with pytest.raises(FileNotFoundError):
        rung_replay.load_arrays(size, settings.conf, settings.columns, input_dir=tmp_path / "x")


def test_adaptive_mode_records_drawn_combinations_and_reports(project_root):
    settings = Settings(project=project_root)
    size = TTT_SIZES["tiny"]
    params, rows, combinations = rung_replay.record_adaptive_rows(
        size, settings.conf, settings.columns, 3, sample_seed=1
    )

    assert len(combinations) == 3 and len(rows) == 3 * size.folds
    assert [row["combo_id"] for row in rows[:3]] == ["c0", "c1", "c2"]
    assert json.loads(rows[0]["params_json"])["num_leaves"] == combinations[0]["num_leaves"]
    results = rung_replay.replay_adaptive_all(rows, params)
    assert results[0]["rule"] == "none" and results[0]["n_complete"] == 3
    # Only settings with a rung below tiny's 60-round cap (min_rounds 25).
    assert {result["min_rounds"] for result in results[1:]} == {25}
    found = rung_replay.diagnostics(rows, params, [25], RoundPruningParams(rule="asha"))
    report = rung_replay.adaptive_markdown(results, found, RoundPruningParams(rule="asha"), 5)
    assert "## Settings ranked" in report and "| fold_id | n_train | round |" in report
    assert pd.notna(found[0]["n_train"])
