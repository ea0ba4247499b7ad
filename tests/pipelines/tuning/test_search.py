"""A search: reuse of the stored trials by trial_id, `resume: false`, timed-out trials (a rerun
through Kedro: tests/pipelines/tuning/test_pipeline.py's KedroSession run)."""

from __future__ import annotations

import itertools
import json
import logging
import uuid

import pandas as pd
import pytest
import yaml
from kedro.framework.session import KedroSession

from spark_lgbm_tuning.datasets.trial_outputs import OUTPUTS_PREFIX
from spark_lgbm_tuning.datasets.trial_store import TrialStore
from spark_lgbm_tuning.pipelines.reporting.nodes import rank_combinations
from spark_lgbm_tuning.pipelines.reporting.params import ReportingParams
from spark_lgbm_tuning.pipelines.tuning import search, search_space
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows
from spark_lgbm_tuning.pipelines.tuning.nodes import expand_search_space, run_trials
from spark_lgbm_tuning.pipelines.tuning.predictions import KEPT_COMBINATIONS
from spark_lgbm_tuning.pipelines.tuning.rungs import rung_rounds
from spark_lgbm_tuning.pipelines.tuning.search import AllTrialsFailedError
from spark_lgbm_tuning.vocabulary import lightgbm_params
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from spark_lgbm_tuning.vocabulary.search_id import SEARCH_ID
from spark_lgbm_tuning.vocabulary.statuses import OK, PRUNED
from tests.pipelines.tuning.data import LogMessages, model_input, time_folds, tuning_params
from tests.project_copy import scratch_project

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
        results, info, predictions, curves = run_trials(
            data, folds, trials, params, ColumnParams(), store
        )
    finally:
        nodes_logger.removeHandler(handler)
        nodes_logger.setLevel(level)
    # For the tests of the report's predictions and curves.
    info["predictions"], info["learning_curves"] = predictions, curves
    return results, info, handler.messages


def _last_job_id(spark, name):
    """Spark's own id of a one-task probe job run now (job ids count up within a context)."""
    sc = spark.sparkContext
    group = f"{name}-{uuid.uuid4().hex}"
    sc.setJobGroup(group, "job count probe")
    try:
        sc.parallelize([0], 1).count()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    [job_id] = sc.statusTracker().getJobIdsForGroup(group)
    return job_id


def _search_counting_jobs(spark, data, folds, params, store):
    """_search and the number of Spark jobs it started, from Spark's job ids around it."""
    before = _last_job_id(spark, "before")
    outcome = _search(data, folds, params, store)
    return *outcome, _last_job_id(spark, "after") - before - 1


def _default_grid(project_root):
    """conf/base's grid (8 combinations), with few rounds to run quickly."""
    conf = yaml.safe_load((project_root / "conf/base/parameters_tuning.yml").read_text())
    grid = conf["tuning"]["grid"]
    assert len(list(itertools.product(*grid.values()))) == 8
    return tuning_params(grid=grid, num_boost_round=20, early_stopping_rounds=5)


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
    # The leaders' predictions are read back from the store, not run again.
    assert first_info["n_predicted_again"] == 0 and info["n_predicted_again"] == 0
    assert info["n_predictions_read_back"] == 6
    pd.testing.assert_frame_equal(info["predictions"], first_info["predictions"])
    # Each run's four outputs carry one search id, the rerun's a new one (reporting/current.py).
    for outputs, run_info in ((first, first_info), (again, info)):
        tables = (outputs, run_info["predictions"], run_info["learning_curves"])
        assert {table.attrs[SEARCH_ID] for table in tables} == {run_info[SEARCH_ID]}
    assert info[SEARCH_ID] != first_info[SEARCH_ID]


def test_a_rerun_of_a_finished_default_search_starts_no_spark_job(
    spark, data, folds, tmp_path, project_root
):
    """Issue 32: the trials' test predictions and curves are kept in the trial store beside their
    results (for the leaders only), so a rerun reads them back and Spark runs no job at all."""
    store = TrialStore(tmp_path / "store")
    params = _default_grid(project_root)
    _, first_info, _, first_jobs = _search_counting_jobs(spark, data, folds, params, store)
    _, info, messages, jobs = _search_counting_jobs(spark, data, folds, params, store)

    assert first_info["n_run"] == 24 and first_jobs > 0
    assert jobs == 0, f"the rerun started {jobs} Spark job(s)"
    assert (info["n_reused"], info["n_run"], info["n_predicted_again"]) == (24, 0, 0)
    assert info["n_predictions_read_back"] == 24  # 8 combinations <= KEPT_COMBINATIONS
    assert not any("again for their test predictions" in message for message in messages)
    assert "Trials: none to run, every trial of the search is reused" in messages
    # Exactly what the trials computed (float64, as the leaderboard's scores came from).
    for frame in ("predictions", "learning_curves"):
        assert not info[frame].empty
        pd.testing.assert_frame_equal(info[frame], first_info[frame], check_exact=True)


def test_a_store_without_predictions_runs_the_leaders_again_once_and_keeps_them(
    spark, data, folds, tmp_path
):
    """A store written before predictions were kept (its outputs files gone): the leaders' folds
    run again for their predictions, said in one line with their progress; then stored, so the
    next rerun starts no Spark job."""
    store = TrialStore(tmp_path / "store")
    first, first_info, _ = _search(data, folds, tuning_params(), store)
    for path in store.batch_files(OUTPUTS_PREFIX):
        path.unlink()

    again, info, messages, jobs = _search_counting_jobs(spark, data, folds, tuning_params(), store)
    assert (info["n_run"], info["n_predicted_again"], info["n_predictions_read_back"]) == (0, 6, 0)
    assert jobs > 0
    [reason] = [m for m in messages if m.startswith("Running 6 trial(s) of the leading")]
    assert "the trial store holds none for them" in reason
    assert any(
        m.startswith("Test predictions of the leading combinations: 6/6 trial(s) run again")
        for m in messages
    )
    pd.testing.assert_frame_equal(again, first)
    pd.testing.assert_frame_equal(info["predictions"], first_info["predictions"])

    _, info, _, jobs = _search_counting_jobs(spark, data, folds, tuning_params(), store)
    assert (info["n_predicted_again"], info["n_predictions_read_back"], jobs) == (0, 6, 0)


def test_the_store_keeps_the_predictions_of_the_leading_combinations_only(
    spark, data, folds, tmp_path
):
    """Bounded as the driver's buffer is: 12 combinations, the predictions of the 10 leading
    ones stay in the store (all their folds), which a rerun reads back."""
    store = TrialStore(tmp_path / "store")
    params = tuning_params(
        grid={"num_leaves": [3, 7, 15, 31], "learning_rate": [0.05, 0.1, 0.3]},
        num_boost_round=10,
    )
    results, info, _ = _search(data, folds, params, store)
    leaders = set(info["predictions"]["combo_id"])
    assert len(leaders) == KEPT_COMBINATIONS < results["combo_id"].nunique() == 12

    stored = store.load_outputs(results["trial_id"])
    assert set(stored) == set(results.loc[results["combo_id"].isin(leaders), "trial_id"])
    _, again, _ = _search(data, folds, params, store)
    assert (again["n_predicted_again"], again["n_predictions_read_back"]) == (0, 30)
    pd.testing.assert_frame_equal(again["predictions"], info["predictions"])


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


@pytest.mark.slow
def test_a_kedro_run_of_a_grid_with_round_pruning_prunes_at_rungs_and_a_rerun_runs_nothing(
    tmp_path, project_root, spark
):
    # Learning rate 0.001 is far behind 0.3 at every rung: once two runs of a fold reached a
    # rung, the later slow ones stop there (eta 2 keeps the best of two; no margin).
    tuning = {
        "grid": {
            "num_leaves": [3, 7, 15, 31],
            "learning_rate": [0.3, 0.001],
            "min_child_samples": [20],
        },
        "search": {
            "round_pruning": {
                "rule": "asha",
                "eta": 2,
                "min_rounds": 5,
                "min_trials": 2,
                "margin": 0.0,
            }
        },
        "num_boost_round": 30,
        "early_stopping_rounds": 5,
    }
    runs = []
    with scratch_project(tmp_path) as project:
        data = model_input()
        data.to_parquet(project / "data/05_model_input/model_input.parquet")
        time_folds(data).to_parquet(project / "data/05_model_input/model_folds.parquet")
        output = project / "data/07_model_output"
        for _ in range(2):
            with KedroSession.create(project_path=project, runtime_params={"tuning": tuning}) as s:
                s.run(pipeline_names=["tuning"])
            runs.append(
                (
                    json.loads((output / "tuning_run_info.json").read_text()),
                    pd.read_parquet(output / "tuning_results.parquet"),
                )
            )
    (info, results), (again_info, again) = runs
    params = tuning_params(**tuning)
    rungs = rung_rounds(params.search.round_pruning, params.max_rounds)
    assert rungs == (5, 10, 20)

    pruned = results[results["status"] == PRUNED]
    assert len(pruned) > 0 and set(results["status"]) == {OK, PRUNED}
    assert set(pruned["pruned_at_round"]) <= set(rungs)
    assert results.loc[results["status"] == OK, "pruned_at_round"].isna().all()
    assert (pruned["best_iteration"] <= pruned["pruned_at_round"]).all()
    assert (
        info["n_pruned_at_rung"] == len(pruned) and info["n_pruned"] == pruned["combo_id"].nunique()
    )
    assert sum(info["pruned_at_rung"].values()) == len(pruned)
    assert info["boosting_rounds_cut_at_rungs"] > 0
    # Every trial noted its rung scores; the leaderboard ranks only the unpruned combinations.
    assert results["rung_scores"].notna().all()
    board, _ = rank_combinations(results, params, ReportingParams())
    assert len(board) == 8 - pruned["combo_id"].nunique() > 0
    assert not set(pruned["combo_id"]) & set(board["combo_id"])

    # A rerun reuses every trial, the pruned ones pruned, and runs none.
    assert again_info["n_run"] == 0 and again_info["n_reused"] == len(results) == 24
    assert again_info["n_pruned_at_rung"] == len(pruned)
    pd.testing.assert_frame_equal(again, results)
