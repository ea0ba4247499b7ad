"""The executor-side trial, run on the driver without Spark."""

from __future__ import annotations

import dataclasses
import json

import lightgbm as lgb
import numpy as np
import pytest
from pyspark import SparkFiles
from sklearn.metrics import (
    log_loss,
    mean_absolute_error,
    roc_auc_score,
    root_mean_squared_error,
)

from spark_lgbm_tuning.executor import fold_data, trial, trial_spec
from spark_lgbm_tuning.executor.trial_spec import TrialSpec
from spark_lgbm_tuning.vocabulary import lightgbm_params
from tests.pipelines.tuning.data import model_input, regression_data

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


def _spec(params, task="classification", **changes):
    spec = TrialSpec(
        trial_id="t",
        combo_id="c",
        fold_id=0,
        task=task,
        params=params,
        grid_values={"num_leaves": params["num_leaves"], "learning_rate": params["learning_rate"]},
        num_boost_round=60,
        early_stopping_rounds=5,
    )
    return dataclasses.replace(spec, **changes)


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
    return _arrays(model_input())


def test_ok_trial_has_every_column(classification_arrays):
    params = _params()
    row = trial.run_trial(_spec(params), fold_data.fold_from_arrays(*classification_arrays, params))

    assert list(row) == [
        *trial_spec.ID_FIELDS,
        *trial_spec.RESULT_FIELDS,
        trial_spec.TEST_PREDICTIONS,
        trial_spec.LEARNING_CURVE,
    ]
    assert row["status"] == "ok" and row["error"] is None
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
    report = json.loads(row["classification_report"])
    assert set(report) >= {"0", "1", "accuracy"}
    assert report["accuracy"] == pytest.approx(row["accuracy"])


def test_failing_trial_is_a_row_not_an_exception(classification_arrays):
    params = _params(num_leaves=-1)
    row = trial.run_trial(_spec(params), fold_data.fold_from_arrays(*classification_arrays, params))

    assert row["status"] == "failed"
    assert row["error"].startswith("LightGBMError: ") and "num_leaves" in row["error"]
    assert all(metric in row and row[metric] is None for metric in lightgbm_params.METRICS)
    assert row["ended_at"] >= row["started_at"]
    assert row[trial_spec.TEST_PREDICTIONS] is None and row[trial_spec.LEARNING_CURVE] is None


def test_a_trial_returns_its_test_predictions_and_learning_curve(classification_arrays):
    """The predictions the metrics were computed from (at the best iteration), and the test
    part's metric per round as far as the run boosted: what the report plots."""
    params = _params()
    row = trial.run_trial(_spec(params), fold_data.fold_from_arrays(*classification_arrays, params))
    best_iteration, probability = _plain_fit(params, *classification_arrays)
    y_test = classification_arrays[3]

    np.testing.assert_allclose(row[trial_spec.TEST_PREDICTIONS], probability, rtol=1e-12)
    assert row["auc_roc"] == roc_auc_score(y_test, row[trial_spec.TEST_PREDICTIONS])
    curve = row[trial_spec.LEARNING_CURVE]["binary_logloss"]
    # Early stopping (patience 5) ran 5 rounds past the best one.
    assert len(curve) == best_iteration + 5
    assert curve[best_iteration - 1] == pytest.approx(log_loss(y_test, probability), rel=1e-9)


def test_trials_sharing_a_run_get_the_curve_up_to_their_own_cap(classification_arrays):
    params = _params()
    specs = [
        _spec(params, trial_id=f"t{cap}", num_boost_round=cap, early_stopping_rounds=None)
        for cap in (10, 25)
    ]
    rows = trial.run_group(specs, fold_data.fold_from_arrays(*classification_arrays, params))
    # Fixed rounds evaluate no metric while boosting: no curve, but the predictions at each cap.
    assert [row[trial_spec.LEARNING_CURVE] for row in rows] == [{}, {}]
    plain = lgb.train(
        params,
        lgb.Dataset(*classification_arrays[:2], params=lightgbm_params.dataset_params(params)),
        num_boost_round=25,
    )
    for row, cap in zip(rows, (10, 25), strict=True):
        np.testing.assert_allclose(
            row[trial_spec.TEST_PREDICTIONS],
            plain.predict(classification_arrays[2], num_iteration=cap),
            rtol=1e-12,
        )


def test_the_final_refit_is_the_trials_boosting_run_on_all_rows(classification_arrays):
    x_train, y_train, x_test, _ = classification_arrays
    params = _params()
    booster = trial.fit_model(params, 25, x_train, y_train, FEATURES)
    plain = lgb.train(
        params,
        lgb.Dataset(x_train, y_train, params=lightgbm_params.dataset_params(params)),
        num_boost_round=25,
    )

    assert booster.feature_name() == FEATURES and booster.num_trees() == 25
    np.testing.assert_allclose(booster.predict(x_test), plain.predict(x_test), rtol=1e-12)


def test_metrics_equal_a_plain_fit_from_the_shipped_binary(classification_arrays, tmp_path):
    x_train, y_train, x_test, y_test = classification_arrays
    params = _params(max_bin=63)
    fold_data.bin_train_part(x_train, y_train, params).save_binary(str(tmp_path / "train.bin"))
    fold_data.write_test_part(x_test, y_test, tmp_path / "x.npy", tmp_path / "y.npy")
    fold = fold_data.load_fold(
        tmp_path / "train.bin", tmp_path / "x.npy", tmp_path / "y.npy", params
    )

    row = trial.run_trial(_spec(params), fold)
    best_iteration, probability = _plain_fit(params, *classification_arrays)

    assert row["status"] == "ok"
    assert row["best_iteration"] == best_iteration
    assert row["auc_roc"] == roc_auc_score(y_test, probability)
    assert row["logloss"] == log_loss(y_test, probability)
    assert row["accuracy"] == np.mean((probability >= 0.5) == y_test)


def test_regression_metrics_equal_a_plain_fit():
    arrays = _arrays(regression_data())
    params = _params(objective="regression")
    spec = _spec(params, task="regression")
    row = trial.run_trial(spec, fold_data.fold_from_arrays(*arrays, params))
    _, prediction = _plain_fit(params, *arrays)

    assert row["status"] == "ok"
    assert row["rmse"] == root_mean_squared_error(arrays[3], prediction)
    assert row["mae"] == mean_absolute_error(arrays[3], prediction)
    assert all(row[metric] is None for metric in lightgbm_params.CLASSIFICATION_METRICS)
    assert row["classification_report"] is None


def test_a_trial_whose_fold_files_are_missing_fails_in_its_row():
    [row] = trial.run_spark_group([_spec(_params())])

    assert row["status"] == "failed"
    assert row["error"].startswith("ValueError: Trial t names no shipped fold files")


def _ship(arrays, params, directory, name):
    """Write a fold as the driver ships it; returns the spec naming its files."""
    x_train, y_train, x_test, y_test = arrays
    fold_data.bin_train_part(x_train, y_train, params).save_binary(str(directory / f"{name}.bin"))
    fold_data.write_test_part(
        x_test, y_test, directory / f"{name}_x.npy", directory / f"{name}_y.npy"
    )
    return _spec(
        params,
        train_file=f"{name}.bin",
        test_x_file=f"{name}_x.npy",
        test_y_file=f"{name}_y.npy",
        run_token="run-1",
    )


@pytest.fixture
def shipped_files(tmp_path, monkeypatch):
    """SparkFiles resolving to tmp_path, as on an executor, and an empty fold cache."""
    monkeypatch.setattr(SparkFiles, "_root_directory", str(tmp_path))
    monkeypatch.setattr(SparkFiles, "_is_running_on_worker", True)
    monkeypatch.setattr(trial, "_STATE", trial._ProcessState())
    return tmp_path


def test_a_cached_fold_is_loaded_once_and_gives_the_same_result(
    classification_arrays, shipped_files
):
    params = _params()
    spec = _ship(classification_arrays, params, shipped_files, "fold0")
    [first] = trial.run_spark_group([spec])
    # The files are gone: only the cache can serve the second task of the same search.
    for path in shipped_files.iterdir():
        path.unlink()
    [again] = trial.run_spark_group([spec])

    assert first["status"] == again["status"] == "ok"
    assert first["data_load_s"] > 0 and again["data_load_s"] < first["data_load_s"]
    assert again["auc_roc"] == first["auc_roc"]
    assert again["best_iteration"] == first["best_iteration"]
    # A new search (run token) drops the cache: its files must be loaded again.
    [other_run] = trial.run_spark_group([dataclasses.replace(spec, run_token="run-2")])
    assert other_run["status"] == "failed" and "Cannot open data file" in other_run["error"]


def test_without_the_fold_cache_every_task_loads_its_files(classification_arrays, shipped_files):
    spec = _ship(classification_arrays, _params(), shipped_files, "fold0")
    spec = dataclasses.replace(spec, disabled_levers=frozenset({"fold_cache"}))
    [first] = trial.run_spark_group([spec])
    for path in shipped_files.iterdir():
        path.unlink()
    [again] = trial.run_spark_group([spec])

    assert first["status"] == "ok"
    assert again["status"] == "failed"


def test_a_pack_runs_each_boosting_run_on_its_own(classification_arrays, shipped_files):
    """A task of several runs of one fold (tasks.plan_tasks packs short ones) scores each as a
    task of its own would, with its own timeout; a failing run fails only its own trials."""
    spec = _ship(classification_arrays, _params(), shipped_files, "fold0")
    caps = [dataclasses.replace(spec, trial_id=f"cap{n}", num_boost_round=n) for n in (20, 60)]
    leaves = dataclasses.replace(
        spec, trial_id="leaves", params={**spec.params, "num_leaves": 15}, timeout_s=1e-9
    )
    bad = dataclasses.replace(spec, trial_id="bad", params={**spec.params, "num_leaves": -3})
    other = dataclasses.replace(spec, trial_id="other", params={**spec.params, "num_leaves": 3})
    pack = [*caps, leaves, bad, other]
    assert [len(run) for run in trial_spec.boosting_runs(pack)] == [2, 1, 1, 1]

    rows = trial.run_spark_group(pack)
    alone = [row for run in trial_spec.boosting_runs(pack) for row in trial.run_spark_group(run)]

    assert [row["trial_id"] for row in rows] == ["cap20", "cap60", "leaves", "bad", "other"]
    assert [row["status"] for row in rows] == ["ok", "ok", "timed_out", "failed", "ok"]
    for packed, single in zip(rows, alone, strict=True):
        assert (packed["status"], packed["auc_roc"], packed["best_iteration"]) == (
            single["status"],
            single["auc_roc"],
            single["best_iteration"],
        )
    assert rows[0]["fit_s"] == 0.0 and rows[1]["fit_s"] > 0  # one run for both caps
    # The fold is loaded once for the pack; its later runs find it cached.
    assert rows[1]["data_load_s"] > 0 and rows[4]["data_load_s"] < rows[1]["data_load_s"]


def _multiclass_arrays(n=600, seed=11):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype(np.float32)
    y = np.digitize(x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=n), [-0.7, 0.7])
    return x[:400], y[:400].astype(np.float64), x[400:], y[400:].astype(np.float64)


def test_multiclass_trial_scores_each_class_probability_as_lightgbm_alone():
    arrays = _multiclass_arrays()
    params = _params(objective="multiclass", num_class=3, metric="multi_logloss")

    row = trial.run_trial(
        _spec(params, task="multiclass"), fold_data.fold_from_arrays(*arrays, params)
    )

    assert row["status"] == "ok", row["error"]
    best, expected = _plain_fit(params, *arrays)
    assert row["best_iteration"] == best
    probabilities = row[trial_spec.TEST_PREDICTIONS].reshape(len(arrays[3]), 3)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-6)
    assert row["multi_logloss"] == pytest.approx(log_loss(arrays[3], expected))
    assert row["auc_ovr_macro"] == pytest.approx(
        roc_auc_score(arrays[3], expected, multi_class="ovr")
    )
    assert row["accuracy"] == pytest.approx(np.mean(expected.argmax(axis=1) == arrays[3]))
    assert 0 < row["f1_macro"] <= 1
    assert row["auc_roc"] is None and row["logloss"] is None
    assert list(row[trial_spec.LEARNING_CURVE]) == ["multi_logloss"]


def test_multiclass_trial_with_a_label_beyond_num_class_fails_in_its_row():
    x_train, y_train, x_test, y_test = _multiclass_arrays()
    params = _params(objective="multiclass", num_class=2, metric="multi_logloss")

    fold = fold_data.fold_from_arrays(x_train, y_train, x_test, y_test, params)
    row = trial.run_trial(_spec(params, task="multiclass"), fold)

    assert row["status"] == "failed"
    assert "LightGBMError" in row["error"]
