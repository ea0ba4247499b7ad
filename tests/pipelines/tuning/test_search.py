"""A search: reuse of the stored trials by trial_id, `resume: false`, timed-out trials (a rerun
through Kedro: tests/pipelines/tuning/test_pipeline.py's KedroSession run)."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from spark_lgbm_tuning import lightgbm_params
from spark_lgbm_tuning.columns import ColumnParams
from spark_lgbm_tuning.datasets.trial_store import TrialStore
from spark_lgbm_tuning.pipelines.tuning import search, search_space
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows
from spark_lgbm_tuning.pipelines.tuning.nodes import expand_search_space, run_trials
from spark_lgbm_tuning.pipelines.tuning.search import AllTrialsFailedError
from tests.pipelines.tuning.data import LogMessages, tuning_params

METRICS = list(lightgbm_params.CLASSIFICATION_METRICS)


def _search(data, folds, params, store):
    """run_trials with the log of the tuning nodes captured: (results, run_info, messages)."""
    handler = LogMessages()
    nodes_logger = logging.getLogger("spark_lgbm_tuning.pipelines.tuning")
    nodes_logger.addHandler(handler)
    level = nodes_logger.level
    nodes_logger.setLevel(logging.INFO)
    try:
        trials = expand_search_space(data, folds, params, ColumnParams())
        results, info, predictions, _ = run_trials(
            data, folds, trials, params, ColumnParams(), store
        )
    finally:
        nodes_logger.removeHandler(handler)
        nodes_logger.setLevel(level)
    info["predictions"] = predictions  # for the tests of the report's predictions
    return results, info, handler.messages


# ------------------------------------------------------------------------------ run_trials


def test_a_rerun_reuses_every_finished_trial(spark, data, folds, tmp_path):
    store = TrialStore(tmp_path / "store")
    first, first_info, _ = _search(data, folds, tuning_params(), store)
    again, info, messages = _search(data, folds, tuning_params(), store)

    assert first_info["n_run"] == 6 and first_info["n_reused"] == 0
    assert info["n_reused"] == 6 and info["n_run"] == 0
    assert f"Trial store {store.path}: 6 of 6 trials reused, 0 to run" in messages
    pd.testing.assert_frame_equal(again, first)
    assert len(store.batch_files()) == 1  # compacted at the end of each run
    # The reused trials' predictions are not stored: the leaders' folds run again for them.
    assert first_info["n_predicted_again"] == 0 and info["n_predicted_again"] == 6
    pd.testing.assert_frame_equal(info["predictions"], first_info["predictions"])


def test_new_combinations_and_changed_data_run_exactly_what_changed(spark, data, folds, tmp_path):
    store = TrialStore(tmp_path / "store")
    _, _, _ = _search(data, folds, tuning_params(), store)

    wider = tuning_params(grid={"num_leaves": [7, 15, 31], "learning_rate": [0.1]})
    results, info, messages = _search(data, folds, wider, store)
    assert info["n_reused"] == 6 and info["n_run"] == 3
    assert any("6 of 9 trials reused, 3 to run" in message for message in messages)
    assert results["trial_id"].is_unique and len(results) == 9
    assert (results["status"] == "ok").all()
    assert set(results["param_num_leaves"]) == {7, 15, 31}

    changed = data.copy()
    changed.loc[len(data) - 1, "feature_0"] += 1.0  # the last fold's test part only
    results, info, _ = _search(changed, folds, wider, store)
    assert info["n_reused"] == 6 and info["n_run"] == 3
    # tuning_results holds naive UTC timestamps (as a Spark write of them read back).
    ran_now = pd.Timestamp(info["started_at"]).tz_localize(None)
    assert (results.loc[results["fold_id"] == 2, "started_at"] >= ran_now).all()
    assert (results.loc[results["fold_id"] < 2, "started_at"] < ran_now).all()


def test_resume_false_reruns_every_trial(spark, data, folds, tmp_path):
    store = TrialStore(tmp_path / "store")
    _search(data, folds, tuning_params(), store)
    results, info, messages = _search(data, folds, tuning_params(resume=False), store)

    assert info["n_reused"] == 0 and info["n_run"] == 6
    assert any("tuning.resume is false: running all 6 trials again" in m for m in messages)
    assert results["trial_id"].is_unique and len(results) == 6


def test_timed_out_trials_run_again_only_when_the_limit_is_raised(spark, data, folds, tmp_path):
    store = TrialStore(tmp_path / "store")
    params = tuning_params(num_boost_round=100_000, early_stopping_rounds=0, trial_timeout_s=0.2)
    timed_out = tuning_params(grid={"num_leaves": [7], "learning_rate": [0.001]})
    # One combination, fixed rounds: every trial passes 0.2 s.
    params = params.model_copy(update={"grid": timed_out.grid})
    with pytest.raises(AllTrialsFailedError, match="TrialTimeoutError: stopped after 0.2"):
        _search(data, folds, params, store)
    stored = store.load()
    assert (stored["status"] == "timed_out").all() and (stored["trial_timeout_s"] == 0.2).all()

    with pytest.raises(AllTrialsFailedError):
        _, _, _ = _search(data, folds, params, store)
    assert len(store.batch_files()) == 1  # nothing ran: the same limit reuses them

    raised = params.model_copy(update={"trial_timeout_s": 0.3})
    with pytest.raises(AllTrialsFailedError, match="stopped after 0.3"):
        _search(data, folds, raised, store)


def test_packed_short_trials_give_the_results_of_one_job_each(spark, data, folds, caplog):
    """The grid packs short runs of one fold into one Spark job (tasks.plan_tasks): fewer jobs,
    the same results as with the lever pack_short_trials off."""
    params = tuning_params(grid={"num_leaves": [7, 15, 31], "learning_rate": [0.1]})
    trials = expand_search_space(data, folds, params, ColumnParams())
    with caplog.at_level(logging.INFO, logger="spark_lgbm_tuning.pipelines.tuning.grid"):
        runs = {
            levers: search.run_from_table(
                spark, data, folds, trials, params, columns=ColumnParams(), disabled_levers=levers
            )
            for levers in (frozenset(), frozenset({"pack_short_trials"}))
        }

    jobs = [
        int(message.split(" as ")[1].split()[0])
        for message in caplog.messages
        if message.startswith("Grid search: 9 trials as ")
    ]
    assert jobs[1] == 9 and jobs[0] < 9
    packed, alone = (runs[levers][0] for levers in runs)
    columns = ["trial_id", "status", *METRICS, "best_iteration"]
    pd.testing.assert_frame_equal(packed[columns], alone[columns])
    pd.testing.assert_frame_equal(*(runs[levers][2] for levers in runs))  # predictions


def test_the_driver_adds_threads_token_and_levers_to_each_trial(data, folds):
    arrays = FoldArrays(data, fold_rows(folds, None, len(data)), ColumnParams())
    specs = search_space.expand(arrays, tuning_params())
    ready = search._ready(specs, 3, "token-1", frozenset({"fold_cache"}))

    assert [spec.trial_id for spec in ready] == [spec.trial_id for spec in specs]
    assert all(spec.params["num_threads"] == 3 for spec in ready)
    assert all("num_threads" not in spec.params for spec in specs)  # the expansion's are kept
    assert {spec.run_token for spec in ready} == {"token-1"}
    assert {spec.disabled_levers for spec in ready} == {frozenset({"fold_cache"})}


def test_the_store_keeps_the_recent_data_versions_and_what_the_search_reuses(
    spark, data, folds, tmp_path
):
    """Four versions of the data: the store keeps two per fold, never the current one's loss."""
    store = TrialStore(tmp_path / "store")
    params = tuning_params(store_keep_fingerprints=2)
    versions = [data.assign(feature_0=data["feature_0"] + shift) for shift in (0.0, 1.0, 2.0, 3.0)]
    for version in versions:
        _search(version, folds, params, store)
    assert len(store.load()) == 2 * 6  # not 4 * 6

    _, info, _ = _search(versions[2], folds, params, store)  # the version before the last
    assert (info["n_reused"], info["n_run"]) == (6, 0)
    _, info, _ = _search(versions[0], folds, params, store)  # dropped: runs again
    assert (info["n_reused"], info["n_run"]) == (0, 6)
    # versions[0] is current now; of the others the most recently stored (versions[3]) stays:
    # recency is when a version's trials were stored, not when they were last reused.
    _, info, _ = _search(versions[3], folds, params, store)
    assert (info["n_reused"], info["n_run"]) == (6, 0)
    assert len(store.load()) == 2 * 6
