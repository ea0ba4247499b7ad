"""Nodes of the tuning pipeline: parameter model, grid expansion, trials on the `spark` fixture."""

from __future__ import annotations

import json
import logging

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError
from sklearn.metrics import roc_auc_score

from spark_lgbm_tuning import lightgbm_params, trial
from spark_lgbm_tuning.pipelines.tuning import nodes
from spark_lgbm_tuning.pipelines.tuning.folds import fold_rows
from spark_lgbm_tuning.pipelines.tuning.nodes import (
    AllTrialsFailedError,
    expand_search_space,
    run_trials,
)
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from tests.pipelines.tuning.data import LogMessages, tuning_params

# ------------------------------------------------------------------------------ parameters


@pytest.mark.parametrize(
    ("path", "key", "combinations"),
    [
        ("conf/base/parameters_tuning.yml", ["tuning"], 8),
        ("conf/reference/parameters_tuning.yml", ["tuning"], 54),
        ("conf/base/parameters_tuning_regression.yml", ["regression", "tuning"], 4),
    ],
)
def test_shipped_parameter_files_validate(project_root, path, key, combinations):
    raw = yaml.safe_load((project_root / path).read_text())
    for part in key:
        raw = raw[part]
    params = TuningParams.model_validate(raw)

    assert params.n_combinations == combinations
    assert params.n_combinations * 4 <= params.max_trials


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"grid": {}}, "grid must map at least one LightGBM parameter"),
        ({"grid": {"num_leaves": 15}}, "grid.num_leaves must be a list of values"),
        ({"grid": {"num_leaves": []}}, "grid.num_leaves is an empty list"),
        ({"primary_metric": "auc"}, "primary_metric\n  Input should be 'accuracy'"),
        ({"primary_metric": "rmse"}, "primary_metric 'rmse' does not apply to task"),
        ({"max_trials": 1}, "= 2 trials, above max_trials=1"),
        ({"max_trials": 0}, "max_trials\n  Input should be greater than or equal to 1"),
        ({"grid_search": {}}, "grid_search\n  Extra inputs are not permitted"),
        ({"fixed": {"objective": "binary", "n_estimators": 9}}, "fixed.n_estimators is set"),
        ({"fixed": {"objective": "regression"}}, "fixed.objective must be one of"),
        ({"fixed": {"objective": "binary", "num_leaves": 3}}, "num_leaves appear in both"),
        ({"folds": [0, 0]}, "distinct fold ids"),
    ],
)
def test_invalid_parameters_name_the_parameter(overrides, message):
    with pytest.raises(ValidationError) as error:
        tuning_params(**overrides)

    assert message in str(error.value)


# ------------------------------------------------------------------------------ expand_search_space


def test_expand_counts_columns_and_stable_ids(data, folds):
    params = tuning_params(grid={"num_leaves": [7, 15], "learning_rate": [0.05, 0.1]})
    trials = expand_search_space(data, folds, params)
    again = expand_search_space(data.copy(), folds.copy(), params)

    assert len(trials) == 4 * 3
    assert trials["trial_id"].is_unique
    assert trials.groupby("combo_id")["fold_id"].nunique().eq(3).all()
    assert trials["combo_id"].nunique() == 4
    assert trials["trial_id"].tolist() == again["trial_id"].tolist()
    assert {"param_num_leaves", "param_learning_rate", "params_json"} <= set(trials.columns)
    assert str(trials["param_num_leaves"].dtype) == "Int64"
    assert json.loads(trials["params_json"].iloc[0])["objective"] == "binary"
    assert trials.groupby("fold_id")["n_train"].first().tolist() == [150, 300, 450]


def test_trial_ids_change_only_for_folds_whose_data_changed(data, folds):
    params = tuning_params()
    before = expand_search_space(data, folds, params).set_index(["combo_id", "fold_id"])
    changed = data.copy()
    changed.loc[len(data) - 1, "feature_0"] += 1.0  # a row of the last fold's test part only
    after = expand_search_space(changed, folds, params).set_index(["combo_id", "fold_id"])

    same = before["trial_id"] == after["trial_id"]
    assert same.groupby(level="fold_id").all().tolist() == [True, True, False]
    assert not same.groupby(level="fold_id").any().iloc[-1]


def test_expand_uses_only_the_chosen_folds(data, folds):
    trials = expand_search_space(data, folds, tuning_params(folds=[2]))

    assert trials["fold_id"].unique().tolist() == [2]


@pytest.mark.parametrize(
    ("params", "folds_change", "message"),
    [
        ({"folds": [7]}, None, r"tuning.folds names unknown fold ids \[7\]"),
        ({"max_trials": 5}, None, r"tuning.max_trials=5 but the grid has 2 combinations x 3"),
        ({}, "drop_split", r"The fold table lacks columns \['split'\]"),
        ({}, "bad_row", "row positions must lie in 0..599"),
    ],
)
def test_expand_rejects_bad_inputs(data, folds, params, folds_change, message):
    if folds_change == "drop_split":
        folds = folds.drop(columns="split")
    elif folds_change == "bad_row":
        folds = folds.assign(row=folds["row"] + 10)
    with pytest.raises(ValueError, match=message):
        expand_search_space(data, folds, tuning_params(**params))


# ------------------------------------------------------------------------------ run_trials


@pytest.fixture(scope="module")
def successful_run(spark, data, folds):
    """One search of 2 combinations x 3 folds, with its log records."""
    params = tuning_params()
    trials = expand_search_space(data, folds, params)
    handler = LogMessages()
    nodes_logger = logging.getLogger("spark_lgbm_tuning.pipelines.tuning.nodes")
    nodes_logger.addHandler(handler)
    level = nodes_logger.level
    nodes_logger.setLevel(logging.INFO)
    try:
        results, run_info = run_trials(data, folds, trials, params)
    finally:
        nodes_logger.removeHandler(handler)
        nodes_logger.setLevel(level)
    return trials, results, run_info, handler.messages


def test_run_trials_all_ok(successful_run):
    trials, results, run_info, messages = successful_run
    rows = results.toPandas()

    assert len(rows) == 2 * 3 == len(trials)
    assert rows["trial_id"].tolist() == trials["trial_id"].tolist()
    assert (rows["status"] == "ok").all() and rows["error"].isna().all()
    assert rows[list(lightgbm_params.CLASSIFICATION_METRICS)].notna().all().all()
    assert rows[list(lightgbm_params.REGRESSION_METRICS)].isna().all().all()
    assert rows["param_num_leaves"].tolist() == trials["param_num_leaves"].tolist()
    assert (rows["executor_id"] == "driver").all()
    assert results.schema["started_at"].dataType.typeName() == "timestamp"
    assert run_info["n_trials"] == 6 and run_info["n_ok"] == 6 and run_info["n_failed"] == 0
    assert run_info["task_cpus"] == 1 and run_info["total_cores"] == 2
    assert run_info["sum_fit_s"] == pytest.approx(rows["fit_s"].sum())
    assert run_info["efficiency"] == pytest.approx(run_info["sum_fit_s"] / (run_info["wall_s"] * 2))
    assert any("Trials 6/6 done (0 failed)" in message for message in messages)
    assert all(json.loads(text)["num_threads"] == 1 for text in rows["params_json"])


def test_run_trials_metrics_equal_a_plain_fit(successful_run, data, folds):
    rows = successful_run[1].toPandas()
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
    trials = expand_search_space(data, folds, params)
    failing = trials["param_num_leaves"] == 3
    trials = pd.concat(
        [_refused_on_executors(trials[failing], num_leaves=-1), trials[~failing]]
    ).sort_index()
    rows = run_trials(data, folds, trials, params)[0].toPandas()

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
    trials = expand_search_space(data, folds, params)
    failing = trials["param_max_bin"] == 2
    trials = pd.concat(
        [_refused_on_executors(trials[failing], max_bin=1), trials[~failing]]
    ).sort_index()
    rows = run_trials(data, folds, trials, params)[0].toPandas()

    assert rows.groupby("param_max_bin")["status"].unique().map(list).to_dict() == {
        1: ["failed"],
        63: ["ok"],
    }
    assert rows.loc[rows["param_max_bin"] == 1, "error"].str.contains("max_bin").all()


def test_each_fold_is_binned_once_in_the_order_the_jobs_need_it(spark, data, folds, caplog):
    """Longest first: the largest fold is binned (and its jobs can start) before the others."""
    params = tuning_params(grid={"num_leaves": [7, 15], "max_bin": [15, 63]})
    trials = expand_search_space(data, folds, params)
    arrays = nodes._FoldArrays(data, fold_rows(folds, None, len(data)))
    workdir = nodes._shipping_dir(spark.sparkContext)
    specs = nodes._trial_specs(trials, params, task_cpus=1, run_token=workdir.name)
    groups = trial.plan_tasks(specs)
    shipper = nodes._FoldShipper(spark.sparkContext, arrays, trials, workdir)
    with caplog.at_level(logging.INFO, logger=nodes.__name__):
        shipper.start(groups)
        prepared = [shipper.prepare(group) for group in groups]
        shipper.close()
    binaries = sorted(path.name for path in workdir.glob("*.bin"))

    shipped = [
        int(record.getMessage().split()[1].rstrip(":"))
        for record in caplog.records
        if "binned and shipped" in record.getMessage()
    ]
    assert shipped == [2, 2, 1, 1, 0, 0]  # fold 2 has the most train rows
    assert len(binaries) == 12  # train and test part x 3 folds x 2 max_bin values
    for group, (ready, failed) in zip(groups, prepared, strict=True):
        assert failed == []
        assert [spec.trial_id for spec in ready] == [spec.trial_id for spec in group]
        for spec in ready:
            assert f"_fold{spec.fold_id}_train_" in spec.train_file
            assert spec.train_file in binaries
            assert spec.valid_file == spec.train_file.replace("_train_", "_valid_")
            assert spec.valid_file in binaries
            assert spec.test_x_file.endswith(f"_fold{spec.fold_id}_test_x.npy")

    # No task fetched those files (as after an interrupt): the executor fetches them at its
    # next task, so their sources must outlive the search or the next search fails.
    rows = run_trials(data, folds, trials, params)[0].toPandas()
    assert (rows["status"] == "ok").all()


def test_run_trials_raises_when_every_trial_fails(spark, data, folds):
    params = tuning_params(grid={"num_leaves": [7]})
    trials = _refused_on_executors(expand_search_space(data, folds, params), num_leaves=-1)

    with pytest.raises(AllTrialsFailedError, match=r"All 3 trials failed. First errors: Light"):
        run_trials(data, folds, trials, params)


def test_run_trials_refuses_trials_of_other_data(spark, data, folds):
    params = tuning_params()
    trials = expand_search_space(data, folds, params)
    changed = data.assign(feature_1=data["feature_1"] * 2)

    with pytest.raises(ValueError, match="expanded from other data for fold 0"):
        run_trials(changed, folds, trials, params)


def test_run_trials_refuses_trials_of_another_grid(spark, data, folds):
    trials = expand_search_space(data, folds, tuning_params())
    other = tuning_params(grid={"max_depth": [3]})

    with pytest.raises(ValueError, match=r"grid asks for \['param_max_depth'\]"):
        run_trials(data, folds, trials, other)
