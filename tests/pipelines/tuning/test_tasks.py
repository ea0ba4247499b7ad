"""Planning a search's Spark tasks: shared boosting runs, packs of short runs, longest first."""

from __future__ import annotations

import dataclasses

from spark_lgbm_tuning.executor.trial_spec import boosting_runs
from spark_lgbm_tuning.pipelines.tuning.tasks import PACK_WORK, plan_tasks, work
from tests.executor.test_trial_rounds import PARAMS, _spec


def test_plan_tasks_groups_caps_and_starts_the_longest():
    small_fold = [_spec(cap, 5, fold_id=1, n_train=100) for cap in (50, 10)]
    other_leaves = _spec(50, 5, params={**PARAMS, "num_leaves": 15})
    big = _spec(20, 5, fold_id=2, n_train=1000)
    groups = plan_tasks([*small_fold, other_leaves, big])
    assert [[spec.num_boost_round for spec in group] for group in groups] == [[50], [20], [10, 50]]
    assert groups[0][0] is other_leaves and groups[1][0] is big

    alone = plan_tasks(
        [*small_fold, other_leaves, big], frozenset({"shared_rounds", "longest_first"})
    )
    assert [group[0] for group in alone] == [*small_fold, other_leaves, big]


def test_trials_on_other_shipped_files_never_share_a_run():
    specs = [_spec(10, 5, train_file="a.bin"), _spec(20, 5, train_file="b.bin")]
    assert [len(group) for group in plan_tasks(specs)] == [1, 1]
    assert [len(group) for group in plan_tasks([_spec(10, 5), _spec(20, 5)])] == [2]


def test_with_round_pruning_the_folds_of_a_combination_run_together_longest_first():
    def spec(combo, fold_id, n_train):
        return _spec(
            100,
            5,
            trial_id=f"{combo}{fold_id}",
            combo_id=combo,
            fold_id=fold_id,
            n_train=n_train,
            params={**PARAMS, "num_leaves": 7 if combo == "a" else 31},
        )

    # Combination b has the most work; longest first over all folds would interleave a and b.
    specs = [spec(combo, fold_id, n) for combo in "ab" for fold_id, n in ((0, 100), (1, 400))]
    specs.append(
        _spec(
            100,
            5,
            trial_id="b2",
            combo_id="b",
            fold_id=2,
            n_train=50,
            params={**PARAMS, "num_leaves": 31},
        )
    )
    interleaved = plan_tasks(specs)
    assert [group[0].trial_id for group in interleaved] == ["a1", "b1", "a0", "b0", "b2"]
    together = plan_tasks(specs, by_combination=True)
    assert [group[0].trial_id for group in together] == ["b1", "b0", "b2", "a1", "a0"]


def test_the_last_groups_of_a_plan_by_combination_run_longest_first_again():
    specs = [
        _spec(
            100,
            5,
            trial_id=f"{combo}{fold_id}",
            combo_id=combo,
            fold_id=fold_id,
            n_train=n_train,
            params={**PARAMS, "num_leaves": 3 + index},
        )
        for index, combo in enumerate("abcde")
        for fold_id, n_train in ((0, 100), (1, 400))
    ]
    # Equal combinations: in combo_id order, each one's longest fold first; the last 3 of the 10
    # groups (LONGEST_FIRST_TAIL) longest first, so e's long fold does not end the search alone.
    planned = plan_tasks(specs, by_combination=True)
    assert [group[0].trial_id for group in planned] == [
        *("a1", "a0", "b1", "b0", "c1", "c0", "d1"),
        *("e1", "d0", "e0"),
    ]


def _combos(n: int, fold_id: int, n_train: int, cap: int = 100) -> list:
    """`n` one-trial boosting runs of one fold (distinct num_leaves)."""
    return [
        _spec(cap, 5, fold_id=fold_id, n_train=n_train, params={**PARAMS, "num_leaves": 2 + i})
        for i in range(n)
    ]


def test_short_runs_of_one_fold_share_a_task_up_to_the_pack_work():
    # 10,000 rows x 100 rounds = 1M each: PACK_WORK (12.5M) holds 12 runs of one fold.
    assert PACK_WORK == 12_500_000
    specs = _combos(30, fold_id=1, n_train=10_000) + _combos(30, fold_id=2, n_train=10_000)
    tasks = plan_tasks(specs, slots=2)

    assert sorted(len(task) for task in tasks) == [6, 6, 12, 12, 12, 12]
    assert all(len({spec.fold_id for spec in task}) == 1 for task in tasks)
    assert all(work(task) <= PACK_WORK for task in tasks)
    assert sorted(spec.trial_id for task in tasks for spec in task) == sorted(
        spec.trial_id for spec in specs
    )
    # Each packed run stays one run of its own on the executor.
    assert all(len(boosting_runs(task)) == len(task) for task in tasks)
    # Longest first: the packs' work never grows along the plan.
    assert [work(task) for task in tasks] == sorted((work(task) for task in tasks), reverse=True)


def test_long_runs_and_other_binnings_are_not_packed():
    long_run = _spec(1_000, 5, fold_id=1, n_train=20_000, params={**PARAMS, "num_leaves": 63})
    other_bins = [
        dataclasses.replace(spec, params={**spec.params, "max_bin": 63}, dataset_key="bins-b")
        for spec in _combos(3, fold_id=1, n_train=1_000)
    ]
    specs = [long_run, *_combos(3, fold_id=1, n_train=1_000), *other_bins]
    tasks = plan_tasks(specs, slots=1)

    assert tasks[0] == [long_run]  # 20M: longer than a pack, a task of its own
    assert [len(task) for task in tasks[1:]] == [3, 3]
    assert {spec.dataset_key for spec in tasks[2]} == {"bins-b"}


def test_a_small_search_keeps_enough_tasks_for_every_slot():
    specs = _combos(8, fold_id=1, n_train=1_000)  # 0.1M each: 0.8M, far below PACK_WORK
    assert [len(task) for task in plan_tasks(specs, slots=1)] == [4, 4]
    assert [len(task) for task in plan_tasks(specs, slots=2)] == [2, 2, 2, 2]
    assert len(plan_tasks(specs, slots=8)) == 8


def test_shared_runs_are_packed_whole_and_the_lever_or_no_slots_packs_nothing():
    caps = [
        _spec(cap, 5, fold_id=1, n_train=1_000, params={**PARAMS, "num_leaves": 63})
        for cap in (50, 100)
    ]
    specs = [*caps, *_combos(6, fold_id=1, n_train=1_000)]
    tasks = plan_tasks(specs, slots=1)
    # 7 runs of 0.1M, 0.35M a pack at most (2 tasks for the slot); the caps' run stays whole.
    assert [[len(run) for run in boosting_runs(task)] for task in tasks] == [
        [2, 1, 1],
        [1, 1, 1],
        [1],
    ]

    assert len(plan_tasks(specs)) == 7
    assert len(plan_tasks(specs, frozenset({"pack_short_trials"}), slots=1)) == 7
    off = frozenset({"shared_rounds"})  # on the specs too, as the search readies them
    alone = plan_tasks([dataclasses.replace(s, disabled_levers=off) for s in specs], off, slots=1)
    # 8 runs (0.75M), 0.375M a pack at most.
    assert [[len(run) for run in boosting_runs(task)] for task in alone] == [
        [1, 1, 1],
        [1, 1, 1],
        [1, 1],
    ]


def test_a_plan_by_combination_is_not_packed():
    # Round pruning hands each run its fold's latest thresholds at submission: packing would give a
    # pack's later runs the thresholds of its submission.
    specs = _combos(8, fold_id=1, n_train=1_000)
    assert len(plan_tasks(specs, slots=1)) == 2
    assert len(plan_tasks(specs, slots=1, by_combination=True)) == 8
