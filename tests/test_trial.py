"""The executor-side trial, run on the driver without Spark."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    precision_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

from spark_lgbm_tuning import lightgbm_params, trial
from spark_lgbm_tuning.trial import TrialSpec
from tests.pipelines.tuning.data import regression_data, timeseries_data

FEATURES = [f"feature_{i}" for i in range(5)]


def _arrays(data):
    x = data[FEATURES].to_numpy(dtype=np.float32)
    y = data["target"].to_numpy(dtype=np.float64)
    return x[:400], y[:400], x[400:], y[400:]


def _params(**overrides):
    params = {
        "objective": "binary",
        "num_leaves": 7,
        "learning_rate": 0.1,
        "min_child_samples": 10,
        "seed": 1,
        "verbosity": -1,
        "num_threads": 1,
        "feature_pre_filter": False,
    }
    return {**params, **overrides}


def _spec(params, task="classification", metric="auc_roc"):
    return TrialSpec(
        trial_id="t",
        combo_id="c",
        fold_id=0,
        task=task,
        params=params,
        grid_names=("num_leaves", "learning_rate"),
        num_boost_round=60,
        early_stopping_rounds=5,
        primary_metric=metric,
    )


def _plain_fit(params, x_train, y_train, x_test, y_test):
    """What a user would write with LightGBM alone, binning from the arrays."""
    train = lgb.Dataset(x_train, y_train, params=lightgbm_params.dataset_params(params))
    valid = lgb.Dataset(x_test, y_test, reference=train)
    booster = lgb.train(
        params,
        train,
        num_boost_round=60,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(5, verbose=False)],
    )
    return booster.best_iteration, booster.predict(x_test, num_iteration=booster.best_iteration)


@pytest.fixture(scope="module")
def classification_arrays():
    return _arrays(timeseries_data())


def test_ok_trial_has_every_column(classification_arrays):
    params = _params()
    row = trial.run_trial(_spec(params), trial.fold_from_arrays(*classification_arrays, params))

    expected = ["trial_id", "combo_id", "fold_id", "param_num_leaves", "param_learning_rate"]
    assert list(row) == expected + list(trial.RESULT_COLUMNS)
    assert row["status"] == "ok" and row["error"] is None
    assert row["param_num_leaves"] == 7 and row["param_learning_rate"] == 0.1
    for metric in lightgbm_params.CLASSIFICATION_METRICS:
        assert row[metric] is not None and np.isfinite(row[metric])
    assert all(row[metric] is None for metric in lightgbm_params.REGRESSION_METRICS)
    assert 0.5 < row["auc_roc"] <= 1.0
    assert (row["n_train"], row["n_test"]) == (400, 200)
    assert 1 <= row["best_iteration"] <= 60
    assert row["fit_s"] > 0 and row["predict_s"] >= 0 and row["data_load_s"] > 0
    # Process CPU time ticks every 10 ms, about as long as this whole fit: on such a short fit the
    # ratio is quantised (0, 1, 2, ...), so only its presence is checked here.
    assert row["peak_rss_mb"] > 10 and row["cpu_utilisation"] >= 0
    assert row["executor_id"] == "local" and row["host"]
    assert row["started_at"] <= row["ended_at"]
    assert json.loads(row["params_json"]) == params
    report = json.loads(row["classification_report"])
    assert set(report) >= {"0", "1", "accuracy"}
    assert report["accuracy"] == pytest.approx(row["accuracy"])


def test_failing_trial_is_a_row_not_an_exception(classification_arrays):
    params = _params(num_leaves=-1)
    row = trial.run_trial(_spec(params), trial.fold_from_arrays(*classification_arrays, params))

    assert row["status"] == "failed"
    assert row["error"].startswith("LightGBMError: ") and "num_leaves" in row["error"]
    assert all(metric in row and row[metric] is None for metric in lightgbm_params.METRICS)
    assert row["param_num_leaves"] == -1 and row["ended_at"] >= row["started_at"]


def test_metrics_equal_a_plain_fit_from_the_shipped_binary(classification_arrays, tmp_path):
    x_train, y_train, x_test, y_test = classification_arrays
    params = _params(max_bin=63)
    trial.bin_train_part(x_train, y_train, params).save_binary(str(tmp_path / "train.bin"))
    trial.write_test_part(x_test, y_test, tmp_path / "x.npy", tmp_path / "y.npy")
    fold = trial.load_fold(tmp_path / "train.bin", tmp_path / "x.npy", tmp_path / "y.npy", params)

    row = trial.run_trial(_spec(params), fold)
    best_iteration, probability = _plain_fit(params, *classification_arrays)

    assert row["status"] == "ok"
    assert row["best_iteration"] == best_iteration
    assert row["auc_roc"] == roc_auc_score(y_test, probability)
    assert row["logloss"] == log_loss(y_test, probability)
    assert row["accuracy"] == np.mean((probability >= 0.5) == y_test)


@pytest.mark.parametrize(
    "labels",
    [
        np.random.default_rng(3).integers(0, 2, 500),
        np.zeros(50, dtype=int),  # a single-class test part: no AUC, the rest defined
        np.ones(50, dtype=int),
    ],
    ids=["both classes", "only 0", "only 1"],
)
def test_classification_metrics_equal_sklearn_scorers(labels):
    """Accuracy/precision/recall/F1 read from the report equal sklearn's own scorers."""
    probability = np.random.default_rng(4).random(len(labels))
    predicted = (probability >= 0.5).astype(int)

    metrics = trial.classification_metrics(labels.astype(float), probability)

    assert metrics["accuracy"] == accuracy_score(labels, predicted)
    assert metrics["precision"] == precision_score(labels, predicted, zero_division=0)
    assert metrics["recall"] == recall_score(labels, predicted, zero_division=0)
    assert metrics["f1"] == f1_score(labels, predicted, zero_division=0)
    assert (metrics["auc_roc"] is None) == (len(np.unique(labels)) == 1)
    assert set(json.loads(metrics["classification_report"])) >= {"0", "1", "accuracy"}


def test_a_shipped_binned_test_part_scores_as_binning_it_in_the_worker(
    classification_arrays, tmp_path
):
    """The driver bins the test part once; the worker loads it (features only memory-mapped)."""
    x_train, y_train, x_test, y_test = classification_arrays
    params = _params(max_bin=63)
    train = trial.bin_train_part(x_train, y_train, params)
    train.save_binary(str(tmp_path / "train.bin"))
    trial.bin_test_part(x_test, y_test, train, params).save_binary(str(tmp_path / "valid.bin"))
    trial.write_test_part(x_test, y_test, tmp_path / "x.npy", tmp_path / "y.npy")
    paths = (tmp_path / "train.bin", tmp_path / "x.npy", tmp_path / "y.npy", params)

    shipped = trial.load_fold(*paths, valid_path=tmp_path / "valid.bin")
    binned_here = trial.load_fold(*paths)

    assert isinstance(shipped.x_test, np.memmap) and shipped.valid is not None
    rows = [trial.run_trial(_spec(params), fold) for fold in (shipped, binned_here)]
    assert rows[0]["status"] == rows[1]["status"] == "ok"
    for name in (*lightgbm_params.CLASSIFICATION_METRICS, "best_iteration"):
        assert rows[0][name] == rows[1][name]


def test_a_test_part_binned_with_other_bins_is_refused(classification_arrays, tmp_path):
    x_train, y_train, x_test, y_test = classification_arrays
    params = _params(max_bin=63)
    trial.bin_train_part(x_train, y_train, params).save_binary(str(tmp_path / "train.bin"))
    other = trial.bin_train_part(x_train[:100], y_train[:100], params)
    trial.bin_test_part(x_test, y_test, other, params).save_binary(str(tmp_path / "valid.bin"))
    trial.write_test_part(x_test, y_test, tmp_path / "x.npy", tmp_path / "y.npy")
    fold = trial.load_fold(
        tmp_path / "train.bin",
        tmp_path / "x.npy",
        tmp_path / "y.npy",
        params,
        valid_path=tmp_path / "valid.bin",
    )

    row = trial.run_trial(_spec(params), fold)

    assert row["status"] == "failed"
    assert "different bin mappers" in row["error"]


def test_regression_metrics_equal_a_plain_fit():
    arrays = _arrays(regression_data())
    params = _params(objective="regression")
    spec = _spec(params, task="regression", metric="rmse")
    row = trial.run_trial(spec, trial.fold_from_arrays(*arrays, params))
    _, prediction = _plain_fit(params, *arrays)

    assert row["status"] == "ok"
    assert row["rmse"] == root_mean_squared_error(arrays[3], prediction)
    assert row["mae"] == mean_absolute_error(arrays[3], prediction)
    assert all(row[metric] is None for metric in lightgbm_params.CLASSIFICATION_METRICS)
    assert row["classification_report"] is None


def test_a_cached_fold_gives_the_same_result_after_other_trials(classification_arrays):
    params = _params()
    fold = trial.fold_from_arrays(*classification_arrays, params)
    first = trial.run_trial(_spec(params), fold)
    trial.run_trial(_spec(_params(num_leaves=31, min_child_samples=50)), fold)
    again = trial.run_trial(_spec(params), fold)

    assert again["auc_roc"] == first["auc_roc"]
    assert again["best_iteration"] == first["best_iteration"]


def test_a_trial_whose_fold_files_are_missing_fails_in_its_row():
    row = trial.run_spark_task(_spec(_params()))

    assert row["status"] == "failed"
    assert row["error"].startswith("ValueError: Trial t names no shipped fold files")


def test_dataset_params_keep_only_binning_params():
    params = _params(max_bin=63, min_data_in_bin=5)

    assert lightgbm_params.dataset_params(params) == {
        "max_bin": 63,
        "min_data_in_bin": 5,
        "feature_pre_filter": False,
        "verbosity": -1,
    }


def test_stable_hash_ignores_key_order_and_sees_values():
    assert trial.stable_hash({"a": 1, "b": [1, 2]}) == trial.stable_hash({"b": [1, 2], "a": 1})
    assert trial.stable_hash({"a": 1}) != trial.stable_hash({"a": 2})
    assert trial.stable_hash({"a": 1}) != trial.stable_hash({"a": 1.0})


@pytest.mark.parametrize(
    ("higher_is_better", "expected_best"), [(True, 0.9), (False, 0.7)], ids=["max", "min"]
)
def test_progress_accumulates_counts_and_best_score(higher_is_better, expected_best):
    progress = trial.ProgressParam(higher_is_better)
    value = progress.zero(None)
    for update in [(1, 0, 0.8), (1, 1, None), (1, 0, 0.9), (1, 0, 0.7)]:
        value = progress.addInPlace(value, update)

    assert value == (4, 1, expected_best)


def test_primary_score_is_none_for_failed_or_undefined():
    assert trial.primary_score({"status": "ok", "auc_roc": 0.7}, "auc_roc") == 0.7
    assert trial.primary_score({"status": "failed", "auc_roc": 0.7}, "auc_roc") is None
    assert trial.primary_score({"status": "ok", "auc_roc": None}, "auc_roc") is None
