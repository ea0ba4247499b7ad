"""GridSearch, the grid as the scheduler's task source, without Spark: reuse of stored trials,
the planned task groups, the records in the trials table's order."""

from __future__ import annotations

import logging

import pytest

from spark_lgbm_tuning.datasets.trial_store import TrialStore
from spark_lgbm_tuning.executor.trial_spec import RESULT_FIELDS, boosting_runs
from spark_lgbm_tuning.pipelines.tuning import search_space
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows
from spark_lgbm_tuning.pipelines.tuning.grid import GridSearch
from spark_lgbm_tuning.pipelines.tuning.results import result_record, store_record
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from tests.pipelines.tuning.data import tuning_params

GRID = {"num_leaves": [7, 15], "learning_rate": [0.1], "num_boost_round": [10, 20]}


@pytest.fixture(scope="module")
def specs(data, folds):
    arrays = FoldArrays(data, fold_rows(folds, None, len(data)), ColumnParams())
    return search_space.expand(arrays, tuning_params(grid=GRID))


def _record(spec, status="ok"):
    return result_record(spec, {**dict.fromkeys(RESULT_FIELDS), "status": status})


def _drain(source):
    groups = []
    while (group := source.next_group()) is not None:
        groups.append(group)
    return groups


def test_the_grid_hands_out_every_trial_in_shared_runs_longest_first(specs):
    proposed = []
    source = GridSearch(tuning_params(grid=GRID), specs, on_proposed=proposed.extend)
    assert source.next_group() is None  # nothing before start()
    source.start()
    groups = _drain(source)

    # Caps 10 and 20 of one combination and fold share a run: 2 combinations x 3 folds.
    assert len(groups) == 6 and all(len(group) == 2 for group in groups)
    assert [spec.num_boost_round for spec in groups[0]] == [10, 20]
    work = [-(group[0].n_train or 1) * group[-1].num_boost_round for group in groups]
    assert work == sorted(work)
    # The fold shipper is told every trial, in the order the groups need them.
    assert proposed == [spec for group in groups for spec in group]


def test_the_grid_packs_the_short_runs_of_a_fold_for_its_task_slots(specs):
    proposed = []
    source = GridSearch(tuning_params(grid=GRID), specs, slots=2, on_proposed=proposed.extend)
    source.start()
    tasks = _drain(source)

    # The 6 short runs (2 combinations x 3 folds) in 2 slots x 2 tasks at least, one fold each.
    assert 4 <= len(tasks) < 6
    assert all(len({spec.fold_id for spec in task}) == 1 for task in tasks)
    assert sorted(len(run) for task in tasks for run in boosting_runs(task)) == [2] * 6
    assert proposed == [spec for task in tasks for spec in task]


def test_stored_final_results_are_reused_unless_resume_is_false(specs, tmp_path, caplog):
    params = tuning_params(grid=GRID)
    store = TrialStore(tmp_path / "store")
    store.append(store_record(_record(spec), None, spec.fold_fingerprint) for spec in specs[:5])
    store.append([store_record(_record(specs[5], "timed_out"), None, specs[5].fold_fingerprint)])

    source = GridSearch(params, specs)
    caplog.set_level(logging.INFO)
    source.resume(store)
    source.start()
    ran = [spec.trial_id for group in _drain(source) for spec in group]
    assert sorted(source.reused) == sorted(spec.trial_id for spec in specs[:5])
    assert sorted(ran) == sorted(spec.trial_id for spec in specs[5:])
    assert f"Trial store {store.path}: 5 of 12 trials reused, 7 to run" in caplog.text

    fresh = GridSearch(params.model_copy(update={"resume": False}), specs)
    fresh.resume(store)
    fresh.start()
    assert not fresh.reused and sum(len(group) for group in _drain(fresh)) == 12
    assert "tuning.resume is false: running all 12 trials again" in caplog.text


def test_records_follow_the_trials_table_and_the_run_info_is_the_grids(specs):
    params = tuning_params(grid=GRID)
    source = GridSearch(params, specs)
    source.reused = {spec.trial_id: _record(spec) for spec in specs[1::2]}
    new = {spec.trial_id: _record(spec, "failed") for spec in reversed(specs[::2])}
    records, restored = source.final_records(new)

    assert [record["trial_id"] for record in records] == [spec.trial_id for spec in specs]
    assert [record["status"] for record in records[:2]] == ["failed", "ok"]
    assert restored == []
    assert source.specs_of([specs[3].trial_id]) == [specs[3]]
    assert source.run_info(records) == {
        "strategy": "grid",
        "n_combinations": 4,
        "n_pruned": 0,
        "boosting_s_saved_by_pruning": 0.0,
    }
