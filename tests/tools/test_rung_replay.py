"""tools/rung_replay.py: the grid's rows replayed through round-wise pruning rules offline."""

from __future__ import annotations

import json
import math

import pytest

from spark_lgbm_tuning.pipelines.tuning.search_params import RoundPruningParams
from tests.tools.rung_rows import (
    PARAMS,
    crossing_rows,
)
from tools import rung_replay, rung_replay_rows
from tools.benchmark_setup import Settings
from tools.ttt_space import TTT_SIZES


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
    result = rung_replay.replay(crossing_rows(), rule, PARAMS, slots=1)

    assert result["keeps_winner"] is keeps_winner
    if keeps_winner:
        assert result["gap"] == 0.0
    else:
        assert result["n_pruned"] >= 1 and result["gap"] == pytest.approx(0.05)
        assert result["rounds_share"] < 1.0


def test_a_size_is_recorded_once_with_every_rounds_score_and_replayed(project_root):
    settings = Settings(project=project_root)
    size = TTT_SIZES["tiny"]
    params, rows = rung_replay_rows.record_rows(size, settings.conf, settings.columns)

    assert len(rows) == params.n_combinations * size.folds
    for row in rows:
        assert row["status"] == "ok" and row["pruned_at_round"] is None
        rounds = sorted(int(rung) for rung in json.loads(row["rung_scores"]))
        assert rounds == list(range(1, rounds[-1] + 1))
    results = rung_replay.replay_all(rows, params)
    assert len(results) == math.prod(len(values) for values in rung_replay_rows.SETTINGS.values())
    assert all(result["n_trials"] == len(rows) for result in results)
    assert "| eta | min_rounds |" in rung_replay_rows.markdown(results)
