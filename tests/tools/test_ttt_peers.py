"""The peers' objective scores a config as our search does; the peers stop where they should."""

from __future__ import annotations

import json
import time

import pytest

from tools.benchmark_methods import run_ours, write_fold_parquet
from tools.benchmark_setup import Settings, Size, make_inputs
from tools.ttt_ours import tuning_params
from tools.ttt_peers import Objective, Run, run_flaml, run_optuna, run_optuna_hyperband
from tools.ttt_space import TTT_SIZES

TINY = TTT_SIZES["tiny"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, project_root):
    settings = Settings(project=project_root)
    size = Size(TINY.rows, TINY.features, TINY.folds, 0, 0, TINY.num_boost_round, 0, 1)
    data, folds, _ = make_inputs(size, 42, settings.conf, settings.columns)
    paths = write_fold_parquet(data, folds, tmp_path_factory.mktemp("folds"), settings.columns)
    params = tuning_params(TINY, settings.conf)
    return data, folds, params, Objective(params, paths), settings.columns


def test_the_objective_gives_our_searchs_auc_on_every_fold(spark, inputs):
    data, folds, params, objective, columns = inputs
    _, results, _ = run_ours(spark, data, folds, params, columns=columns)
    assert len(results) == params.n_combinations * TINY.folds
    for row in results.to_dict("records"):
        combination = {
            name: value
            for name, value in json.loads(row["params_json"]).items()
            if name in params.grid
        }
        score, seconds = objective.fold(row["fold_id"], combination)
        assert score == pytest.approx(row["auc_roc"], abs=1e-12), (combination, row["fold_id"])
        assert seconds > 0


def test_the_folds_run_smallest_first(inputs):
    *_, objective, _ = inputs
    assert objective.fold_ids == sorted(objective.paths) == [0, 1, 2, 3]


def test_a_run_stops_at_its_budget_or_once_past_the_target_and_the_minimum_time():
    now = time.time()
    run = Run(target=0.9, budget_s=100.0, min_s=50.0, seed=1, cores=2, started=now - 10)
    assert not run.should_stop(0.95)  # reached, but before half the grid's wall
    assert not run.should_stop(None)
    late = Run(target=0.9, budget_s=100.0, min_s=50.0, seed=1, cores=2, started=now - 60)
    assert late.should_stop(0.9) and not late.should_stop(0.89)
    spent = Run(target=0.9, budget_s=100.0, min_s=50.0, seed=1, cores=2, started=now - 101)
    assert spent.should_stop(None)


def test_optuna_stops_soon_after_an_easy_target(inputs):
    *_, objective, _ = inputs
    run = Run(target=0.5, budget_s=120.0, min_s=0.0, seed=3, cores=2, started=time.time())
    table = run_optuna(objective, TINY.ranges, run)
    assert table["complete"].any()
    # The first complete trial stops the study; only the trial running beside it may finish.
    assert table["complete"].sum() <= 2
    assert (table.loc[table["complete"], "n_folds"] == TINY.folds).all()


@pytest.mark.slow
def test_optuna_keeps_to_its_budget_when_the_target_is_out_of_reach(inputs):
    *_, objective, _ = inputs
    run = Run(target=2.0, budget_s=4.0, min_s=0.0, seed=3, cores=2, started=time.time())
    table = run_optuna(objective, TINY.ranges, run)
    assert len(table) >= 2
    # Optuna's timeout starts no trial after the budget; a running one finishes (a tiny fit).
    assert table["end_s"].max() < run.budget_s + 10
    pruned = table[table["pruned"]]
    assert (pruned["n_folds"] < TINY.folds).all() and pruned["score"].isna().all()


@pytest.mark.slow
def test_the_multi_fidelity_peer_prunes_inside_the_first_folds_boosting_run(inputs):
    *_, objective, _ = inputs
    run = Run(target=2.0, budget_s=8.0, min_s=0.0, seed=3, cores=2, started=time.time())
    table = run_optuna_hyperband(objective, TINY.ranges, run)
    complete, pruned = table[table["complete"]], table[table["pruned"]]
    assert len(complete) >= 1 and len(pruned) >= 1
    assert (complete["n_folds"] == TINY.folds).all() and complete["score"].notna().all()
    # Pruned at a round of its first fold: no fold finished, its boosting seconds still count.
    assert (pruned["n_folds"] == 0).all() and pruned["score"].isna().all()
    assert (pruned["boosting_s"] > 0).all()


def test_the_pruning_metric_does_not_change_the_score(inputs):
    *_, objective, _ = inputs
    config = {"num_leaves": 15, "learning_rate": 0.1}
    watched = []
    score, _ = objective.fold(1, config, [lambda env: watched.append(env.evaluation_result_list)])
    assert score == objective.fold(1, config)[0]
    # Early stopping's metric first (the one that stops), then the AUC the pruner watches.
    assert [name for _, name, *_ in watched[0]] == ["binary_logloss", "auc"]


@pytest.mark.slow
def test_flaml_starts_from_one_point_in_every_seed_unless_its_searcher_is_seeded(spark, inputs):
    *_, objective, _ = inputs

    def first_score(seed: int, *, seeded: bool) -> float:
        run = Run(target=2.0, budget_s=3.0, min_s=0.0, seed=seed, cores=1, started=time.time())
        table = run_flaml(objective, TINY.ranges, run, seeded=seeded)
        return table.sort_values("end_s")["score"].iloc[0]

    # FLAML's own seed picks its first point's other axes: the global seed does not move it.
    assert first_score(1, seeded=False) == first_score(2, seeded=False)
    assert first_score(1, seeded=True) != first_score(2, seeded=True)
