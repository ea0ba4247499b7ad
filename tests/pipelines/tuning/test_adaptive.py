"""The adaptive search: proposals, fold order, pruning and budget without Spark (a fake clock and
hand-made fold rows through AdaptiveSearch, the scheduler's task source), resume from the store,
and runs of run_trials per strategy on local[2]."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from kedro.framework.session import KedroSession

from spark_lgbm_tuning.datasets.trial_store import TrialStore
from spark_lgbm_tuning.pipelines.reporting.nodes import rank_combinations
from spark_lgbm_tuning.pipelines.reporting.params import ReportingParams
from spark_lgbm_tuning.pipelines.tuning import stepwise, strategies
from spark_lgbm_tuning.pipelines.tuning.adaptive import AdaptiveSearch
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows
from spark_lgbm_tuning.pipelines.tuning.nodes import expand_search_space, run_trials
from spark_lgbm_tuning.pipelines.tuning.portfolio import PORTFOLIOS, DataFacts, first_wave, fitted
from spark_lgbm_tuning.pipelines.tuning.results import PRUNED, result_record
from spark_lgbm_tuning.pipelines.tuning.search_space import data_facts
from spark_lgbm_tuning.pipelines.tuning.stepwise import PROPOSALS_PER_AXIS
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from tests.pipelines.tuning.adaptive_driver import (
    FOLDS,
    SPACE,
    adaptive_params,
    drive,
    fold_row,
    made_up_score,
)
from tests.pipelines.tuning.data import model_input, time_folds, tuning_params
from tests.project_copy import scratch_project

# ------------------------------------------------------------------------------ no Spark


def test_folds_run_cheapest_first_and_the_budget_caps_proposals():
    search = AdaptiveSearch(adaptive_params(n_combinations=5), FOLDS)
    rows = drive(search)
    assert search.counts() == {"proposed": 5, "running": 0, "pruned": 0, "complete": 5, "failed": 0}
    assert [spec.fold_id for spec, _ in rows[:3]] == [0, 1, 2]  # fewest train rows first
    assert len(rows) == 15
    assert search.best_value() == pytest.approx(max(made_up_score(s.grid_values) for s, _ in rows))


@pytest.mark.parametrize("strategy", ["tpe", "random"])
def test_a_cheap_start_proposes_the_cheapest_combination_first_then_the_samplers(strategy):
    cheap = AdaptiveSearch(adaptive_params(strategy, n_combinations=6, start="cheap"), FOLDS)
    sampled = AdaptiveSearch(adaptive_params(strategy, n_combinations=6), FOLDS)
    rows = drive(cheap)
    first = rows[0][0].grid_values
    # Fewest leaves, highest learning rate, the larger leaf minimum (min_data_in_leaf).
    assert first == {"num_leaves": 4, "learning_rate": 0.3, "min_child_samples": 20}
    assert drive(sampled)[0][0].grid_values != first
    assert len({spec.combo_id for spec, _ in rows}) == 6  # then the sampler's proposals


@pytest.mark.parametrize("strategy", ["tpe", "random"])
def test_a_portfolio_start_proposes_one_configuration_per_slot_nearest_the_data_first(strategy):
    data = DataFacts(rows=1_000, features=15, classes=2, numeric_share=0.7)
    params = adaptive_params(strategy, n_combinations=6, start="portfolio")
    search = AdaptiveSearch(params, FOLDS, data=data, slots=2)
    rows = drive(search)
    space = strategies.distributions(params)
    nearest = [
        fitted(configuration.values, space)
        for configuration in PORTFOLIOS["classification"].ordered(data)
    ]
    proposed = list(dict.fromkeys(spec.combo_id for spec, _ in rows))
    first_two = [next(s.grid_values for s, _ in rows if s.combo_id == c) for c in proposed[:2]]
    assert first_two == nearest[:2]  # FLAML's small-table configuration first, then the next
    assert first_two[0] == {"num_leaves": 64, "learning_rate": 0.020707, "min_child_samples": 5}
    assert len(proposed) == 6  # then the sampler's
    other = AdaptiveSearch(params, FOLDS, data=DataFacts(100_000, 30, 2, 1.0), slots=2)
    assert drive(other)[0][0].grid_values != first_two[0]  # other data, another start


def test_stepwise_starts_from_lightgbms_defaults_then_varies_one_group_from_the_best():
    params = adaptive_params("stepwise", n_combinations=4 + 2 * PROPOSALS_PER_AXIS)
    search = AdaptiveSearch(params, FOLDS)
    rows = drive(search)
    proposals = [spec.grid_values for spec, _ in rows if spec.fold_id == 0]
    # LightGBM's defaults (31 leaves, learning rate 0.1, 20 per leaf), fitted into the space.
    assert proposals[0] == {"num_leaves": 31, "learning_rate": 0.1, "min_child_samples": 20}
    plan = stepwise.steps(strategies.distributions(params))
    assert plan == [("num_leaves",), ("min_child_samples",), ("learning_rate",)]
    # Each proposal differs from the best complete combination before it (all complete here)
    # in one step's group at most; the first step's (num_leaves) come first.
    for index, values in enumerate(proposals[1:], start=1):
        best = max(proposals[:index], key=made_up_score)
        changed = {axis for axis in values if values[axis] != best[axis]}
        assert any(changed <= set(group) for group in plan), (values, best)
    first_step = proposals[1:4]
    assert all(values["learning_rate"] == 0.1 for values in first_step)
    assert len({values["num_leaves"] for values in first_step}) == 3
    # The later groups' steps come in turn (a repeated proposal takes a step's turn too).
    assert any(values["learning_rate"] != 0.1 for values in proposals)
    assert search.best_value() == pytest.approx(max(made_up_score(values) for values in proposals))


def test_a_portfolio_start_without_the_datas_facts_is_refused():
    search = AdaptiveSearch(adaptive_params(n_combinations=2, start="portfolio"), FOLDS)
    with pytest.raises(ValueError, match="portfolio needs the data's facts"):
        search.next_group()


def test_rungs_prune_only_once_min_complete_combinations_completed_every_fold():
    params = adaptive_params(
        n_combinations=4, round_pruning={"rule": "asha", "min_complete": 2, "min_rounds": 10}
    )
    search = AdaptiveSearch(params, FOLDS)
    assert not search.rungs_may_prune()
    drive(search, until=1)
    assert not search.rungs_may_prune()
    drive(search, until=2)
    assert search.rungs_may_prune()
    assert AdaptiveSearch(adaptive_params(n_combinations=1), FOLDS).rungs_may_prune()


def test_the_same_seed_proposes_the_same_combinations_and_another_seed_others():
    def proposals(seed):
        search = AdaptiveSearch(adaptive_params(n_combinations=12, seed=seed), FOLDS)
        return [spec.combo_id for spec, _ in drive(search)]

    assert proposals(1) == proposals(1)
    assert proposals(1) != proposals(2)


def test_parallel_proposals_differ_while_the_first_ones_run():
    # Nothing told yet: 4 slots ask at once; constant_liar keeps them apart.
    search = AdaptiveSearch(adaptive_params(n_combinations=20), FOLDS)
    first = [search.next_group()[0] for _ in range(4)]
    assert len({spec.combo_id for spec in first}) == 4
    assert {spec.fold_id for spec in first} == {0}
    assert search.counts()["running"] == 4


def test_a_free_slot_takes_the_next_fold_of_a_live_combination_before_a_new_proposal():
    search = AdaptiveSearch(adaptive_params(n_combinations=20), FOLDS)
    a, b = search.next_group()[0], search.next_group()[0]
    search.observe([fold_row(a, 0.8)])
    following = search.next_group()[0]
    assert (following.combo_id, following.fold_id) == (a.combo_id, 1)
    assert search.counts()["proposed"] == 2 and b.combo_id != a.combo_id


def test_median_pruning_stops_bad_combinations_after_their_first_folds():
    params = adaptive_params("random", "median", n_combinations=30)
    search = AdaptiveSearch(params, FOLDS)
    rows = drive(search)
    counts = search.counts()
    assert counts["pruned"] > 0 and counts["complete"] + counts["pruned"] == 30
    pruned_rows = [row for _, row in rows if row["status"] == PRUNED]
    # Each pruned combination's last fold row says so; its unrun folds have no row.
    assert len({search._combo_of[row["trial_id"]] for row in pruned_rows}) == counts["pruned"]
    assert len(rows) < 30 * len(FOLDS)
    # Every fold ran at 1 s a trial: each unrun fold of a pruned combination saved 1 s.
    saved = search.saved_boosting_s([row | {"fold_id": s.fold_id} for s, row in rows])
    assert saved == pytest.approx(30 * len(FOLDS) - len(rows))


def test_wilcoxon_pruning_compares_with_the_best_combination_fold_by_fold():
    params = adaptive_params("random", "wilcoxon", n_combinations=20)
    search = AdaptiveSearch(params, FOLDS)
    drive(search)
    assert search.counts()["pruned"] > 0


def test_a_failed_fold_fails_its_combination_and_its_other_folds_do_not_run():
    search = AdaptiveSearch(adaptive_params(n_combinations=1), FOLDS)
    (spec,) = search.next_group()
    search.observe([{"trial_id": spec.trial_id, "status": "failed", "auc_roc": None}])
    assert search.next_group() is None
    assert search.counts()["failed"] == 1


def test_a_fold_pruned_at_a_rung_ends_its_combination_as_pruned():
    # Round pruning with no fold-wise pruner: the fold stopped inside its boosting run is enough.
    search = AdaptiveSearch(adaptive_params(n_combinations=1), FOLDS)
    (first,) = search.next_group()
    search.observe([fold_row(first, 0.8)])
    (second,) = search.next_group()
    row = {**fold_row(second, 0.7), "status": PRUNED, "pruned_at_round": 100}
    search.observe([row])
    assert search.next_group() is None
    assert search.counts()["pruned"] == 1 and search.counts()["complete"] == 0
    assert search.n_pruned_at_rung == 1
    new = {first.trial_id: result_record(first, fold_row(first, 0.8))}
    new[second.trial_id] = result_record(second, row)
    records, restored = search.final_records(new)
    assert [record["status"] for record in records] == [PRUNED, PRUNED]
    assert [record["trial_id"] for record in restored] == [first.trial_id]


def test_the_time_budget_stops_proposals_but_not_the_running_folds():
    now = [0.0]
    params = adaptive_params(time_budget_s=10.0)
    search = AdaptiveSearch(params, FOLDS, clock=lambda: now[0])
    search.start()
    running = search.next_group()[0]
    now[0] = 11.0
    assert search.time_left_s() == 0.0
    assert search.next_group() is None  # budget spent: no new proposal
    search.observe([fold_row(running, 0.8)])
    assert search.next_group()[0].combo_id == running.combo_id  # its next fold still runs


def test_n_combinations_counts_distinct_combinations_when_the_sampler_repeats_itself():
    # 8 combinations of lists: TPE comes back to known ones; each repeat is told its outcome,
    # and the budget still buys 6 combinations that run.
    params = tuning_params(
        grid={"num_leaves": [7, 15], "learning_rate": [0.05, 0.1], "min_child_samples": [5, 20]},
        search={"strategy": "tpe", "n_combinations": 6, "seed": 1},
    )
    search = AdaptiveSearch(params, FOLDS)
    rows = drive(search)
    assert search.counts()["complete"] == 6
    assert len({spec.combo_id for spec, _ in rows}) == 6
    assert len(search.study.trials) >= 6


def test_a_space_of_lists_ends_when_every_combination_was_proposed():
    params = tuning_params(
        grid={"num_leaves": [7, 15], "learning_rate": [0.1]},
        search={"strategy": "tpe", "time_budget_s": 3600},
    )
    search = AdaptiveSearch(params, FOLDS)
    assert len({spec.combo_id for spec, _ in drive(search)}) == 2


# ------------------------------------------------------------------------------ on Spark


def _run(data, folds, params, store=None):
    trials = expand_search_space(data, folds, params, ColumnParams())
    return trials, *run_trials(data, folds, trials, params, ColumnParams(), store)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["random/median", "tpe/wilcoxon", "stepwise/wilcoxon"])
def test_run_trials_per_strategy(spark, data, folds, tmp_path, method):
    strategy, pruning = method.split("/")
    params = adaptive_params(strategy, pruning, n_combinations=8)
    trials, results, info, _, _ = _run(data, folds, params, TrialStore(tmp_path / "store"))
    assert trials.empty  # proposed while it runs: tuning_trials has no row
    assert sorted(results["fold_id"].unique()) == sorted(folds["fold_id"].unique())
    assert info["strategy"] == strategy and info["n_combinations"] == 8
    assert results["combo_id"].nunique() == 8
    assert set(results["status"]) <= {"ok", PRUNED}
    per_combo = results.groupby("combo_id")["status"]
    complete = per_combo.agg(lambda status: (status == "ok").all() and len(status) == 3)
    assert complete.sum() + info["n_pruned"] == 8
    assert results["ended_at"].notna().all() and results["fold_fingerprint"].notna().all()
    # Each unrun fold of a pruned combination saved that fold's mean fit time.
    unrun = 8 * 3 - len(results)
    fold_fit_s = results.groupby("fold_id")["fit_s"].mean()
    saved = info["boosting_s_saved_by_pruning"]
    assert unrun * fold_fit_s.min() - 1e-9 <= saved <= unrun * fold_fit_s.max() + 1e-9
    assert (saved > 0) == (unrun > 0)


@pytest.mark.slow
def test_a_portfolio_start_and_the_pruning_floor_on_spark(spark, data, folds, tmp_path):
    """search.start portfolio runs the configuration nearest the data first; rungs never decide
    on the smallest fold (exempt_smallest_folds 1) nor before 2 combinations completed."""
    params = adaptive_params(
        "tpe",
        n_combinations=8,
        start="portfolio",
        round_pruning={
            "rule": "asha",
            "min_rounds": 2,
            "eta": 2,
            "min_trials": 1,
            "margin": 0.0,
            "exempt_smallest_folds": 1,
            "min_complete": 2,
        },
    )
    _, results, info, _, _ = _run(data, folds, params, TrialStore(tmp_path / "store"))
    arrays = FoldArrays(data, fold_rows(folds, None, len(data)), ColumnParams())
    wave = first_wave(
        strategies.distributions(params), "classification", data_facts(arrays, "classification"), 1
    )
    # Results come in proposal order (the slots start the wave's first ones at about one time).
    first = json.loads(results.iloc[0]["params_json"])
    assert {name: first[name] for name in SPACE} == wave[0]
    assert results["combo_id"].nunique() == 8
    smallest = min(arrays.train_sizes().items(), key=lambda item: item[1])[0]
    at_rung = results[results["pruned_at_round"].notna()]
    assert smallest not in set(at_rung["fold_id"])  # the exempt fold ran unpruned
    # The first two combinations to complete ran with no threshold: none of theirs was pruned.
    first_two = list(dict.fromkeys(results["combo_id"]))[:2]
    assert not results[results["combo_id"].isin(first_two)]["pruned_at_round"].notna().any()
    assert info["strategy"] == "tpe"


@pytest.mark.slow
def test_a_rerun_of_a_finished_adaptive_search_runs_nothing(spark, data, folds, tmp_path):
    store = TrialStore(tmp_path / "store")
    params = adaptive_params("tpe", "median", n_combinations=6)
    _, first, first_info, predictions, _ = _run(data, folds, params, store)
    _, again, info, predictions_again, _ = _run(data, folds, params, store)
    assert info["n_run"] == 0 and info["n_reused"] == len(first)
    # The leaders' predictions are read back from the store: no fold runs again for them.
    complete = first.groupby("combo_id")["status"].agg(lambda s: (s == "ok").all() and len(s) == 3)
    assert first_info["n_predicted_again"] == 0 and info["n_predicted_again"] == 0
    assert info["n_predictions_read_back"] == 3 * complete.sum() > 0
    pd.testing.assert_frame_equal(predictions_again, predictions)
    pd.testing.assert_frame_equal(
        again.sort_values("trial_id", ignore_index=True),
        first.sort_values("trial_id", ignore_index=True),
    )


class InterruptingStore(TrialStore):
    """A trial store that is interrupted (as by Ctrl-C) right after its `after`-th batch."""

    def __init__(self, path, after):
        super().__init__(path)
        self.after = after
        self.batches = 0

    def append(self, rows, outputs=()):
        written = super().append(rows, outputs)
        self.batches += 1
        if self.batches == self.after:
            raise KeyboardInterrupt
        return written


@pytest.mark.slow
def test_an_interrupted_adaptive_search_resumes_without_rerunning_finished_folds(
    spark, data, folds, tmp_path
):
    params = adaptive_params("tpe", "median", n_combinations=6)
    with pytest.raises(KeyboardInterrupt):
        _run(data, folds, params, InterruptingStore(tmp_path / "store", after=5))
    store = TrialStore(tmp_path / "store")
    kept = store.load()
    assert len(kept) >= 5

    _, results, info, _, _ = _run(data, folds, params, store)
    assert info["n_reused"] >= len(kept) and info["n_combinations"] == 6
    assert set(kept["trial_id"]) <= set(results["trial_id"])
    assert results["combo_id"].nunique() == 6
    ran_now = pd.Timestamp(info["started_at"]).tz_localize(None)
    reused = results[results["trial_id"].isin(kept["trial_id"])]
    assert (reused["started_at"] < ran_now).all()  # finished folds were not run again


@pytest.mark.slow
def test_a_kedro_run_of_tpe_with_pruning_ranks_only_fully_evaluated_combinations(
    tmp_path, project_root, spark
):
    # Ranges over conf/base's list axes are spelled as one-item lists (Kedro's merge).
    ranges = {name: [axis] for name, axis in SPACE.items() if isinstance(axis, dict)}
    tuning = {
        "grid": {**ranges, "min_child_samples": None},
        "search": {
            "strategy": "tpe",
            "n_combinations": 10,
            "pruning": "median",
            "seed": 1,
            # Combined with round pruning: a fold stopped at a rung ends its combination too.
            "round_pruning": {"rule": "asha", "eta": 2, "min_rounds": 5, "min_trials": 2},
        },
        "num_boost_round": 30,
        "early_stopping_rounds": 5,
    }
    with scratch_project(tmp_path) as project:
        data = model_input()
        data.to_parquet(project / "data/05_model_input/model_input.parquet")
        time_folds(data).to_parquet(project / "data/05_model_input/model_folds.parquet")
        with KedroSession.create(project_path=project, runtime_params={"tuning": tuning}) as s:
            s.run(pipeline_names=["tuning"])
        output = project / "data/07_model_output"
        info = json.loads((output / "tuning_run_info.json").read_text())
        results = pd.read_parquet(output / "tuning_results.parquet")
    params = tuning_params(**{**tuning, "grid": SPACE})
    board, _ = rank_combinations(results, params, ReportingParams())

    assert info["strategy"] == "tpe" and info["n_combinations"] == 10
    pruned = set(results.loc[results["status"] == PRUNED, "combo_id"])
    assert len(pruned) == info["n_pruned"]
    assert not pruned & set(board["combo_id"])
    assert len(board) == 10 - len(pruned)
    at_rung = results[results["pruned_at_round"].notna()]
    assert info["n_pruned_at_rung"] == len(at_rung) > 0
    for combo_id, row in at_rung.set_index("combo_id").iterrows():
        # The fold pruned at a rung was its combination's last: no later fold ran.
        assert row["started_at"] == results.loc[results["combo_id"] == combo_id, "started_at"].max()
