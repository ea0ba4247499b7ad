"""run_trials on the `spark` fixture: results, metrics, failing trials, refused inputs."""

from __future__ import annotations

import json
import logging

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from spark_lgbm_tuning.pipelines.tuning.nodes import expand_search_space, run_trials
from spark_lgbm_tuning.pipelines.tuning.search import AllTrialsFailedError
from spark_lgbm_tuning.vocabulary import lightgbm_params
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from tests.pipelines.tuning.data import LogMessages, tuning_params

COLUMNS = ColumnParams()

# ------------------------------------------------------------------------------ run_trials


@pytest.fixture(scope="module")
def successful_run(spark, data, folds):
    """One search of 2 combinations x 3 folds, with its log records."""
    params = tuning_params()
    trials = expand_search_space(data, folds, params, COLUMNS)
    handler = LogMessages()
    nodes_logger = logging.getLogger("spark_lgbm_tuning.pipelines.tuning")
    nodes_logger.addHandler(handler)
    level = nodes_logger.level
    nodes_logger.setLevel(logging.INFO)
    try:
        results, run_info, predictions, curves = run_trials(data, folds, trials, params, COLUMNS)
    finally:
        nodes_logger.removeHandler(handler)
        nodes_logger.setLevel(level)
    return trials, results, run_info, handler.messages, predictions, curves


def test_run_trials_all_ok(successful_run):
    trials, results, run_info, messages, _, _ = successful_run
    rows = results

    assert len(rows) == 2 * 3 == len(trials)
    assert rows["trial_id"].tolist() == trials["trial_id"].tolist()
    assert (rows["status"] == "ok").all() and rows["error"].isna().all()
    assert rows[list(lightgbm_params.CLASSIFICATION_METRICS)].notna().all().all()
    assert rows[list(lightgbm_params.REGRESSION_METRICS)].isna().all().all()
    assert rows["param_num_leaves"].tolist() == trials["param_num_leaves"].tolist()
    assert (rows["executor_id"] == "driver").all()
    assert str(results["started_at"].dtype) == "datetime64[ns]"
    assert run_info["n_trials"] == 6 and run_info["n_ok"] == 6 and run_info["n_failed"] == 0
    assert run_info["task_cpus"] == 1 and run_info["total_cores"] == 2
    assert run_info["sum_fit_s"] == pytest.approx(rows["fit_s"].sum())
    assert run_info["efficiency"] == pytest.approx(run_info["sum_fit_s"] / (run_info["wall_s"] * 2))
    assert any("Trials 6/6 done (0 failed, 0 timed out)" in message for message in messages)
    assert all(json.loads(text)["num_threads"] == 1 for text in rows["params_json"])


def test_run_trials_metrics_equal_a_plain_fit(successful_run, data, folds):
    rows = successful_run[1]
    row = rows[rows["fold_id"] == 2].iloc[0]

    member = folds[folds["fold_id"] == 2]
    x = data[[f"feature_{i}" for i in range(5)]].to_numpy(dtype=np.float32)
    y = data["target"].to_numpy(dtype=np.float64)
    train_rows = member.loc[member["split"] == "train", "row"].to_numpy()
    test_rows = member.loc[member["split"] == "test", "row"].to_numpy()
    lgb_params = json.loads(row["params_json"])
    train = lgb.Dataset(
        x[train_rows], y[train_rows], params=lightgbm_params.dataset_params(lgb_params)
    )
    booster = lgb.train(
        lgb_params,
        train,
        num_boost_round=30,
        valid_sets=[lgb.Dataset(x[test_rows], y[test_rows], reference=train)],
        callbacks=[lgb.early_stopping(5, verbose=False)],
    )
    probability = booster.predict(x[test_rows], num_iteration=booster.best_iteration)

    assert row["best_iteration"] == booster.best_iteration
    assert row["auc_roc"] == roc_auc_score(y[test_rows], probability)


def test_run_trials_returns_the_trials_own_predictions_and_curves(successful_run, folds):
    """Both combinations lead (at most 10 are kept): each fold's test rows, predicted by its
    trial, score exactly the trial's auc_roc; the curves run to best iteration + patience."""
    _, results, run_info, _, predictions, curves = successful_run
    test_rows = folds[folds["split"] == "test"].groupby("fold_id").size()

    assert run_info["n_predicted_again"] == 0
    assert predictions.groupby(["combo_id", "fold_id"]).size().unstack().eq(test_rows).all().all()
    for result in results.to_dict("records"):
        part = predictions[
            (predictions["combo_id"] == result["combo_id"])
            & (predictions["fold_id"] == result["fold_id"])
        ]
        assert roc_auc_score(part["actual"], part["predicted"]) == result["auc_roc"]
        curve = curves[
            (curves["combo_id"] == result["combo_id"]) & (curves["fold_id"] == result["fold_id"])
        ]
        assert (curve["best_iteration"] == result["best_iteration"]).all()
        assert curve["round"].max() == min(result["best_iteration"] + 5, 30)


def _refused_on_executors(trials, **lgb_params):
    """`trials` whose LightGBM parameters carry values LightGBM refuses when the trial runs.

    expand_search_space rejects a grid value that LightGBM refuses in every combination, so a
    failing trial is made here, as a combination valid alone may fail on the executors.
    """
    changed = trials.copy()
    changed["params_json"] = [
        json.dumps({**json.loads(text), **lgb_params}, sort_keys=True)
        for text in changed["params_json"]
    ]
    return changed


def test_run_trials_keeps_going_past_failing_trials(spark, data, folds):
    params = tuning_params(grid={"num_leaves": [3, 7], "learning_rate": [0.1]})
    trials = expand_search_space(data, folds, params, COLUMNS)
    failing = trials["param_num_leaves"] == 3
    trials = pd.concat(
        [_refused_on_executors(trials[failing], num_leaves=-1), trials[~failing]]
    ).sort_index()
    rows = run_trials(data, folds, trials, params, COLUMNS)[0]

    # A row's param_<name> columns are the values its trial ran with.
    failed = rows[rows["param_num_leaves"] == -1]
    ok = rows[rows["param_num_leaves"] == 7]
    assert len(failed) == len(ok) == 3
    assert (failed["status"] == "failed").all()
    assert failed["error"].str.startswith("LightGBMError: Check failed: (num_leaves) > (1)").all()
    assert failed["auc_roc"].isna().all()
    assert (ok["status"] == "ok").all() and ok["auc_roc"].notna().all()


def test_a_bad_dataset_param_fails_only_its_trials(spark, data, folds):
    params = tuning_params(grid={"num_leaves": [7], "max_bin": [2, 63]})
    trials = expand_search_space(data, folds, params, COLUMNS)
    failing = trials["param_max_bin"] == 2
    trials = pd.concat(
        [_refused_on_executors(trials[failing], max_bin=1), trials[~failing]]
    ).sort_index()
    rows = run_trials(data, folds, trials, params, COLUMNS)[0]

    assert rows.groupby("param_max_bin")["status"].unique().map(list).to_dict() == {
        1: ["failed"],
        63: ["ok"],
    }
    assert rows.loc[rows["param_max_bin"] == 1, "error"].str.contains("max_bin").all()


def test_run_trials_raises_when_every_trial_fails(spark, data, folds):
    params = tuning_params(grid={"num_leaves": [7]})
    trials = _refused_on_executors(expand_search_space(data, folds, params, COLUMNS), num_leaves=-1)

    with pytest.raises(AllTrialsFailedError, match=r"All 3 trials failed. First errors: Light"):
        run_trials(data, folds, trials, params, COLUMNS)


def test_run_trials_refuses_trials_of_other_data(spark, data, folds):
    params = tuning_params()
    trials = expand_search_space(data, folds, params, COLUMNS)
    changed = data.assign(feature_1=data["feature_1"] * 2)

    with pytest.raises(ValueError, match="expanded from other data for fold 0"):
        run_trials(changed, folds, trials, params, COLUMNS)


def test_run_trials_refuses_trials_of_another_grid(spark, data, folds):
    trials = expand_search_space(data, folds, tuning_params(), COLUMNS)
    other = tuning_params(grid={"max_depth": [3]})

    with pytest.raises(ValueError, match=r"grid asks for \['param_max_depth'\]"):
        run_trials(data, folds, trials, other, COLUMNS)
