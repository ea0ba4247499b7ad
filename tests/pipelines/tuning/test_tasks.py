"""Planning a search's Spark tasks: shared boosting runs, longest first."""

from __future__ import annotations

from spark_lgbm_tuning.pipelines.tuning.tasks import plan_tasks
from tests.test_trial_rounds import PARAMS, _spec


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
