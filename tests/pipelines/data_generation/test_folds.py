"""make_timeseries_folds / make_regression_folds / summarise_folds on small real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spark_lgbm_tuning.pipelines.data_generation.nodes import (
    generate_regression,
    generate_timeseries,
    make_regression_folds,
    make_timeseries_folds,
    summarise_folds,
)


def _rows(folds: pd.DataFrame, fold_id: int, split: str) -> np.ndarray:
    return folds.loc[(folds["fold_id"] == fold_id) & (folds["split"] == split), "row"].to_numpy()


@pytest.mark.parametrize(
    ("n_samples", "folds", "test_size"),
    [
        (1_003, {"n_splits": 4}, 1_003 // 5),
        (500, {"n_splits": 3, "gap": 24, "test_size": 100}, 100),
        (777, {"n_splits": 5, "gap": 7}, 777 // 6),
        (60, {"n_splits": 2, "test_size": 1}, 1),
    ],
)
def test_timeseries_folds_expand_in_time_order(make_params, n_samples, folds, test_size):
    params = make_params(n_samples=n_samples, n_features=4, folds=folds)
    data = generate_timeseries(params)
    table = make_timeseries_folds(data, params)

    assert list(table.columns) == ["fold_id", "split", "row"]
    assert table.dtypes.to_dict() == {
        "fold_id": np.dtype("int32"),
        "split": np.dtype("O"),
        "row": np.dtype("int64"),
    }
    n_splits, gap = params.folds.n_splits, params.folds.gap
    assert sorted(table["fold_id"].unique()) == list(range(n_splits))
    assert set(table["split"]) == {"train", "test"}
    dates = data["date"].to_numpy()
    previous_train = np.array([], dtype=np.int64)
    for k in range(n_splits):
        train, test = _rows(table, k, "train"), _rows(table, k, "test")
        # Sizes as specified: fixed test windows, the train window grows by one test window.
        assert len(test) == test_size
        assert len(train) == n_samples - gap - (n_splits - k) * test_size
        # Contiguous windows, gap rows apart, every train timestamp before every test one.
        np.testing.assert_array_equal(train, np.arange(len(train)))
        np.testing.assert_array_equal(test, np.arange(test[0], test[0] + test_size))
        assert test[0] - train[-1] - 1 == gap
        assert dates[train].max() < dates[test].min()
        # Expanding: each fold's train set contains the previous one.
        assert np.isin(previous_train, train).all() and len(train) > len(previous_train)
        previous_train = train
    # The test windows tile the end of the data.
    tests = np.concatenate([_rows(table, k, "test") for k in range(n_splits)])
    np.testing.assert_array_equal(tests, np.arange(n_samples - n_splits * test_size, n_samples))


def test_timeseries_folds_refuse_unsorted_dates(make_params):
    params = make_params(n_samples=100, n_features=4)
    data = generate_timeseries(params).iloc[::-1].reset_index(drop=True)
    with pytest.raises(ValueError, match="sorted by `date`"):
        make_timeseries_folds(data, params)


def test_timeseries_folds_refuse_too_few_rows(make_params):
    params = make_params(n_samples=100, n_features=4, folds={"n_splits": 4, "test_size": 20})
    data = generate_timeseries(params).iloc[:80]
    with pytest.raises(ValueError, match="timeseries_data rows=80 is too few rows for folds"):
        make_timeseries_folds(data, params)


def test_timeseries_folds_need_a_date_column(make_params):
    params = make_params(n_samples=100, n_features=4)
    with pytest.raises(ValueError, match="no `date` column"):
        make_timeseries_folds(generate_timeseries(params).drop(columns="date"), params)


def test_regression_folds_hold_out_each_fold_id(make_params):
    data = generate_regression(make_params(n_samples=1_001, n_features=5))
    table = make_regression_folds(data)
    assert table.dtypes.to_dict() == {
        "fold_id": np.dtype("int32"),
        "split": np.dtype("O"),
        "row": np.dtype("int64"),
    }
    assert len(table) == 4 * len(data)
    all_rows = np.arange(len(data))
    for k in range(4):
        test, train = _rows(table, k, "test"), _rows(table, k, "train")
        np.testing.assert_array_equal(test, np.flatnonzero(data["fold_id"] == k))
        np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), all_rows)
    # Every row is tested exactly once.
    tested = table.loc[table["split"] == "test", "row"]
    assert tested.is_unique and len(tested) == len(data)


def test_regression_folds_need_every_fold_id():
    frame = pd.DataFrame({"target": np.zeros(6), "fold_id": np.array([0, 0, 2, 2, 3, 3])})
    with pytest.raises(ValueError, match="every id 0..k-1"):
        make_regression_folds(frame)
    with pytest.raises(ValueError, match="no `fold_id` column"):
        make_regression_folds(frame.drop(columns="fold_id"))


def test_summarise_folds_matches_the_rows(make_params):
    params = make_params(n_samples=2_000, n_features=8, folds={"n_splits": 3, "gap": 10})
    data = generate_timeseries(params)
    table = make_timeseries_folds(data, params)
    summary = summarise_folds(data, table)

    assert list(summary.columns) == [
        "fold_id",
        "n_train",
        "n_test",
        "train_start",
        "train_end",
        "test_start",
        "test_end",
        "train_positive_ratio",
        "test_positive_ratio",
    ]
    assert summary["fold_id"].tolist() == [0, 1, 2]
    for fold in summary.itertuples():
        for split in ("train", "test"):
            rows = _rows(table, fold.fold_id, split)
            chosen = data.iloc[rows]
            assert getattr(fold, f"n_{split}") == len(rows)
            assert getattr(fold, f"{split}_start") == chosen["date"].min()
            assert getattr(fold, f"{split}_end") == chosen["date"].max()
            assert getattr(fold, f"{split}_positive_ratio") == pytest.approx(
                chosen["target"].mean()
            )
        assert fold.train_end + 11 * pd.Timedelta("1h") == fold.test_start  # the 10-row gap
    assert summary["n_train"].is_monotonic_increasing


def test_summarise_folds_refuses_rows_outside_the_data(make_params):
    params = make_params(n_samples=100, n_features=4)
    data = generate_timeseries(params)
    table = make_timeseries_folds(data, params)
    with pytest.raises(ValueError, match=r"must lie in \[0, 50\)"):
        summarise_folds(data.iloc[:50], table)
    with pytest.raises(ValueError, match="must hold 'train' and 'test'"):
        summarise_folds(data, table.assign(split="train"))
    with pytest.raises(ValueError, match=r"timeseries_data lacks column\(s\) \['target'\]"):
        summarise_folds(data.drop(columns="target"), table)
    with pytest.raises(ValueError, match="timeseries_folds is empty"):
        summarise_folds(data, table.iloc[:0])
