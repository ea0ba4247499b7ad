"""A fold as LightGBM data: binned on the driver, written, loaded on an executor."""

from __future__ import annotations

import numpy as np
import pytest

from spark_lgbm_tuning.executor import fold_data, trial
from spark_lgbm_tuning.vocabulary import lightgbm_params
from tests.executor.test_trial import _arrays, _params, _spec
from tests.pipelines.tuning.data import model_input


@pytest.fixture(scope="module")
def classification_arrays():
    return _arrays(model_input())


def test_a_fold_from_arrays_is_float32_and_binned_with_the_dataset_params(classification_arrays):
    fold = fold_data.fold_from_arrays(*classification_arrays, _params(max_bin=15))

    assert fold.x_test.dtype == np.float32 and fold.y_test.dtype == np.float64
    assert (fold.n_train, fold.n_test) == (400, 200)
    assert fold.train.get_params()["max_bin"] == 15
    with pytest.raises(ValueError, match="could not convert string to float"):
        fold_data.fold_from_arrays(np.array([["a"]]), [0.0], [[1.0]], [0.0], _params())


def test_a_shipped_binned_test_part_scores_as_binning_it_in_the_worker(
    classification_arrays, tmp_path
):
    """The driver bins the test part once; the worker loads it (features only memory-mapped)."""
    x_train, y_train, x_test, y_test = classification_arrays
    params = _params(max_bin=63)
    train = fold_data.bin_train_part(x_train, y_train, params)
    train.save_binary(str(tmp_path / "train.bin"))
    fold_data.bin_test_part(x_test, y_test, train, params).save_binary(str(tmp_path / "valid.bin"))
    fold_data.write_test_part(x_test, y_test, tmp_path / "x.npy", tmp_path / "y.npy")
    paths = (tmp_path / "train.bin", tmp_path / "x.npy", tmp_path / "y.npy", params)

    shipped = fold_data.load_fold(*paths, valid_path=tmp_path / "valid.bin")
    binned_here = fold_data.load_fold(*paths)

    assert isinstance(shipped.x_test, np.memmap) and shipped.valid is not None
    rows = [trial.run_trial(_spec(params), fold) for fold in (shipped, binned_here)]
    assert rows[0]["status"] == rows[1]["status"] == "ok"
    for name in (*lightgbm_params.CLASSIFICATION_METRICS, "best_iteration"):
        assert rows[0][name] == rows[1][name]


def test_a_test_part_binned_with_other_bins_is_refused(classification_arrays, tmp_path):
    x_train, y_train, x_test, y_test = classification_arrays
    params = _params(max_bin=63)
    fold_data.bin_train_part(x_train, y_train, params).save_binary(str(tmp_path / "train.bin"))
    other = fold_data.bin_train_part(x_train[:100], y_train[:100], params)
    fold_data.bin_test_part(x_test, y_test, other, params).save_binary(str(tmp_path / "valid.bin"))
    fold_data.write_test_part(x_test, y_test, tmp_path / "x.npy", tmp_path / "y.npy")
    fold = fold_data.load_fold(
        tmp_path / "train.bin",
        tmp_path / "x.npy",
        tmp_path / "y.npy",
        params,
        valid_path=tmp_path / "valid.bin",
    )

    row = trial.run_trial(_spec(params), fold)

    assert row["status"] == "failed"
    assert "different bin mappers" in row["error"]
