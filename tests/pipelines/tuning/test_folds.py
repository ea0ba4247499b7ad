"""The fold table's row positions, the target checks and FoldArrays (converted once, fingerprinted)."""

from __future__ import annotations

import numpy as np
import pytest

from spark_lgbm_tuning.pipelines.tuning.folds import (
    FoldArrays,
    check_target,
    covered_rows,
    fold_rows,
    searched_params,
)
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from tests.pipelines.tuning.data import tuning_params

COLUMNS = ColumnParams()


def test_fold_rows_are_sorted_positions_per_fold(data, folds):
    rows = fold_rows(folds, None, len(data))

    assert list(rows) == [0, 1, 2]
    train, test = rows[2]
    assert (np.diff(train) > 0).all() and train[-1] < test[0]
    assert (len(train), len(test)) == (450, 150)
    assert list(fold_rows(folds, [1], len(data))) == [1]
    assert covered_rows(folds, len(data)).tolist() == list(range(600))


def test_fold_rows_refuse_an_empty_part(data, folds):
    only_train = folds[~((folds["fold_id"] == 1) & (folds["split"] == "test"))]
    with pytest.raises(ValueError, match="Fold 1 has 300 train and 0 test rows"):
        fold_rows(only_train, None, len(data))


def test_fold_arrays_slice_each_fold_from_one_conversion(data, folds):
    arrays = FoldArrays(data, fold_rows(folds, None, len(data)), COLUMNS)
    x_train, y_train, x_test, y_test = arrays.split(1)

    assert arrays.features == [f"feature_{i}" for i in range(5)]
    assert x_train.dtype == np.float32 and y_train.dtype == np.float64
    assert (len(x_train), len(x_test)) == (300, 150)
    assert y_test.tolist() == data["target"].iloc[300:450].astype(float).tolist()


def test_a_fingerprint_changes_with_its_fold_data_only(data, folds):
    rows = fold_rows(folds, None, len(data))
    before = FoldArrays(data, rows, COLUMNS)
    changed = data.copy()
    changed.loc[len(data) - 1, "feature_0"] += 1.0  # the last fold's test part only
    after = FoldArrays(changed, rows, COLUMNS)

    assert [before.fingerprint(k) == after.fingerprint(k) for k in rows] == [True, True, False]
    before.check_fingerprints({k: {before.fingerprint(k)} for k in rows})
    with pytest.raises(ValueError, match="expanded from other data for fold 2"):
        after.check_fingerprints({k: {before.fingerprint(k)} for k in rows})


def test_each_fold_is_hashed_once_per_arrays(data, folds, monkeypatch):
    arrays = FoldArrays(data, fold_rows(folds, None, len(data)), COLUMNS)
    hashed: list[int] = []
    digest = arrays._digest
    monkeypatch.setattr(
        arrays, "_digest", lambda fold_id: hashed.append(fold_id) or digest(fold_id)
    )

    first = {k: arrays.fingerprint(k) for k in arrays.rows}
    arrays.check_fingerprints({k: {value} for k, value in first.items()})

    assert sorted(hashed) == sorted(arrays.rows)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("nan", r"The target has 1 NaN or infinite value\(s\) \(first rows \[3\]\)"),
        ("text", "The target column 'target' has dtype object: it must be numeric"),
        ("no_features", r"The data has no feature_\* columns"),
    ],
)
def test_fold_arrays_refuse_bad_columns_by_name(data, folds, change, message):
    bad = data.copy()
    if change == "nan":
        bad["target"] = bad["target"].astype(float)
        bad.loc[3, "target"] = np.nan
    elif change == "text":
        bad["target"] = bad["target"].astype(str).astype(object)
    else:
        bad = bad.rename(columns=lambda name: name.replace("feature_", "f"))
    with pytest.raises(ValueError, match=message):
        FoldArrays(bad, fold_rows(folds, None, len(data)), COLUMNS)


def test_classification_needs_0_1_labels_and_both_classes_per_train_part(data, folds):
    rows = fold_rows(folds, None, len(data))
    target = data["target"].to_numpy(dtype=np.float64)
    check_target(target, rows, "classification")
    check_target(target * 3.5, rows, "regression")  # any finite value is a regression target

    with pytest.raises(ValueError, match=r"needs a 0/1 target, found values \[2.0\]"):
        check_target(target * 2, rows, "classification")
    one_class = target.copy()
    one_class[:150] = 1.0
    with pytest.raises(ValueError, match="Fold 0's training part \\(150 rows\\) has only class 1"):
        check_target(one_class, rows, "classification")


def test_multiclass_needs_classes_0_to_k_and_each_in_every_train_part(data, folds):
    rows = fold_rows(folds, None, len(data))
    target = (np.arange(len(data)) % 3).astype(np.float64)
    check_target(target, rows, "multiclass")

    with pytest.raises(
        ValueError, match=r"classes numbered 0..K-1, found values \[0.0, 1.0, 3.0\]"
    ):
        check_target(np.where(target == 2, 3.0, target), rows, "multiclass")
    with pytest.raises(ValueError, match=r"found values \[0.0, 0.5, 1.0, 2.0\]"):
        check_target(np.where(np.arange(len(data)) == 5, 0.5, target), rows, "multiclass")
    with pytest.raises(ValueError, match=r"found values \[-1.0, 0.0, 1.0\]"):
        check_target(target - 1, rows, "multiclass")
    late = target.copy()
    late[late == 2] = 1.0
    late[-5:] = 2.0  # class 2 only in the last rows: no fold's training part holds it
    train = rows[0][0]
    with pytest.raises(
        ValueError, match=rf"Fold 0's training part \({len(train)} rows\) lacks class 2 of 0..2"
    ):
        check_target(late, rows, "multiclass")


def test_searched_params_count_the_classes_of_a_multiclass_target(data, folds):
    rows = fold_rows(folds, None, len(data))
    multi = data.assign(target=(np.arange(len(data)) % 4).astype(np.float64))
    params = tuning_params(
        task="multiclass", primary_metric=None, fixed={"objective": "multiclass"}
    )

    searched = searched_params(params, FoldArrays(multi, rows, COLUMNS))

    assert searched.fixed["num_class"] == 4
    binary = searched_params(tuning_params(), FoldArrays(data, rows, COLUMNS))
    assert "num_class" not in binary.fixed
