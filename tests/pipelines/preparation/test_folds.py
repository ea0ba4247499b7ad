"""Folds of every kind on small data: their rows, their refusals and their summary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from spark_lgbm_tuning.pipelines.preparation.folds import (
    SUMMARY_COLUMNS,
    FoldParams,
    cut_folds,
    summarise_folds,
)
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from spark_lgbm_tuning.vocabulary.errors import InputDataError

N_ROWS = 120
COLUMNS = ColumnParams(group="store")
NO_TIME = ColumnParams(time=None, group="store")


@pytest.fixture
def data() -> pd.DataFrame:
    """120 daily rows, 30 positives (every 4th row), 10 stores of unequal sizes."""
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=N_ROWS, freq="D", unit="us"),
            "feature_0": rng.normal(size=N_ROWS),
            "store": rng.choice(list("abcdefghij"), size=N_ROWS, p=[0.2] + [0.8 / 9] * 9),
            "target": (np.arange(N_ROWS) % 4 == 0).astype(np.int32),
        }
    )


def _parts(table: pd.DataFrame) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    return {
        int(fold_id): tuple(
            member.loc[member["split"] == split, "row"].to_numpy() for split in ("train", "test")
        )
        for fold_id, member in table.groupby("fold_id")
    }


@contextmanager
def _one_line_error(match: str) -> Iterator[None]:
    """InputDataError matching `match`, its message one line (the CLI prints it as is)."""
    with pytest.raises(InputDataError, match=match) as error:
        yield
    assert "\n" not in str(error.value)


# ------------------------------------------------------------------------------- parameters
def test_params_default_to_four_expanding_folds():
    params = FoldParams()
    assert (params.kind, params.n_splits, params.gap, params.test_size) == ("expanding", 4, 0, None)
    with pytest.raises(ValidationError):
        params.n_splits = 5  # frozen: one object travels from the loader to the node


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"kind": "kfold", "gap": 2}, "gap=2 shapes time windows, which kind 'kfold'"),
        ({"kind": "stratified", "test_size": 10}, "test_size=10 shapes time windows"),
        ({"kind": "group", "train_size": 30}, "train_size=30 shapes time windows"),
        ({"kind": "expanding", "train_size": 30}, "train_size=30 bounds sliding windows"),
        ({"kind": "rolling"}, "kind"),
        ({"n_splits": 1}, "n_splits"),
        ({"gap": -1}, "gap"),
        ({"folds": 3}, r"unknown key\(s\) \['folds'\]"),
    ],
)
def test_params_refuse_settings_the_kind_does_not_use(settings, named):
    with pytest.raises(ValidationError, match=named):
        FoldParams(**settings)


# ------------------------------------------------------------------------------ time kinds
@pytest.mark.parametrize(
    ("settings", "tests"),
    [
        # Default test size 120 // 5 = 24: the first training window holds 24 rows.
        ({}, [(24, 47), (48, 71), (72, 95), (96, 119)]),
        ({"gap": 3}, [(24, 47), (48, 71), (72, 95), (96, 119)]),
        ({"gap": 5, "test_size": 10, "n_splits": 3}, [(90, 99), (100, 109), (110, 119)]),
    ],
)
@pytest.mark.parametrize("kind", ["expanding", "sliding"])
def test_time_folds_test_consecutive_windows_after_a_gap(data, kind, settings, tests):
    params = FoldParams(kind=kind, **settings)
    table = cut_folds(data, params, COLUMNS)

    assert list(table.columns) == ["fold_id", "split", "row"]
    assert table.dtypes.astype(str).tolist() == ["int32", "object", "int64"]
    parts = _parts(table)
    assert [(test[0], test[-1]) for _, test in parts.values()] == tests
    for train, test in parts.values():
        assert (np.diff(test) == 1).all() and (np.diff(train) == 1).all()
        # The gap: exactly `gap` rows lie unused between train and test.
        assert test[0] - train[-1] - 1 == params.gap
        if kind == "expanding":
            assert train[0] == 0
    if kind == "sliding":
        # Null train_size: every window holds the first fold's training rows.
        assert len({len(train) for train, _ in parts.values()}) == 1


def test_sliding_train_windows_are_bounded_by_train_size(data):
    params = FoldParams(kind="sliding", gap=2, test_size=20, train_size=30)
    parts = _parts(cut_folds(data, params, COLUMNS))

    # 120 - 2 - 4 * 20 = 38 rows precede the first test window's gap: 30 of them train.
    assert [(train[0], train[-1]) for train, _ in parts.values()] == [
        (8, 37),
        (28, 57),
        (48, 77),
        (68, 97),
    ]
    short = FoldParams(kind="sliding", test_size=20, train_size=60)
    # Fewer rows than train_size before an early window: it trains on those it has.
    assert [len(train) for train, _ in _parts(cut_folds(data, short, COLUMNS)).values()] == [
        40,
        60,
        60,
        60,
    ]


def test_time_folds_use_the_row_order_without_a_time_column(data):
    shuffled = data.drop(columns="date").sample(frac=1, random_state=0).reset_index(drop=True)
    params = FoldParams(gap=1)
    ordered = _parts(cut_folds(shuffled, params, NO_TIME))
    assert [(test[0], test[-1]) for _, test in ordered.values()] == [
        (24, 47),
        (48, 71),
        (72, 95),
        (96, 119),
    ]
    # A time column present but not named in columns.time does not order the folds.
    unsorted = data.iloc[::-1].reset_index(drop=True)
    assert cut_folds(unsorted, params, NO_TIME).equals(cut_folds(shuffled, params, NO_TIME))


def test_time_folds_refuse_unsorted_time(data):
    swapped = data.copy()
    swapped.loc[[40, 41], "date"] = swapped.loc[[41, 40], "date"].to_numpy()
    with _one_line_error(r"not sorted by 'date' \(columns.time\): row 41 comes before row 40"):
        cut_folds(swapped, FoldParams(kind="sliding"), COLUMNS)


def test_time_folds_refuse_a_missing_or_incomplete_time_column(data):
    with _one_line_error(r"no column 'date' \(columns.time\).*fix columns.time"):
        cut_folds(data.drop(columns="date"), FoldParams(), COLUMNS)
    holed = data.copy()
    holed.loc[[5, 9], "date"] = pd.NaT
    with _one_line_error(r"'date' \(columns.time\) has 2 missing value\(s\) \(first at row 5\)"):
        cut_folds(holed, FoldParams(), COLUMNS)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"n_splits": 4, "test_size": 30}, r"120 rows are too few for expanding folds with "),
        ({"kind": "sliding", "n_splits": 4, "gap": 100}, r"too few for sliding folds with n_spl"),
        ({"kind": "kfold", "n_splits": 5}, r"4 rows are too few for kfold folds with n_splits=5"),
    ],
)
def test_folds_refuse_too_few_rows(data, settings, message):
    rows = data.head(4) if settings.get("kind") == "kfold" else data
    with _one_line_error(message):
        cut_folds(rows, FoldParams(**settings), COLUMNS)


# --------------------------------------------------------------------------- k-fold kinds
def _tests_every_row_once(parts: dict, n_rows: int) -> None:
    tested = np.concatenate([test for _, test in parts.values()])
    assert np.array_equal(np.sort(tested), np.arange(n_rows))
    for train, test in parts.values():
        assert np.array_equal(np.union1d(train, test), np.arange(n_rows))
        assert len(np.intersect1d(train, test)) == 0


def test_kfold_tests_every_row_once_shuffled_by_the_seed(data):
    parts = _parts(cut_folds(data, FoldParams(kind="kfold"), COLUMNS))
    _tests_every_row_once(parts, N_ROWS)
    assert [len(test) for _, test in parts.values()] == [30, 30, 30, 30]
    # Shuffled: a test part is not one block of rows; the seed fixes it.
    assert not (np.diff(parts[0][1]) == 1).all()
    assert cut_folds(data, FoldParams(kind="kfold"), COLUMNS).equals(
        cut_folds(data, FoldParams(kind="kfold", seed=42), COLUMNS)
    )
    other = _parts(cut_folds(data, FoldParams(kind="kfold", seed=1), COLUMNS))
    assert not np.array_equal(other[0][1], parts[0][1])
    blocks = _parts(cut_folds(data, FoldParams(kind="kfold", shuffle=False), COLUMNS))
    assert [(test[0], test[-1]) for _, test in blocks.values()] == [
        (0, 29),
        (30, 59),
        (60, 89),
        (90, 119),
    ]


def test_stratified_folds_keep_the_class_shares(data):
    skewed = data.copy()
    # 12 positives, all among the first rows: an unstratified cut would miss them in places.
    skewed["target"] = (np.arange(N_ROWS) < 12).astype(np.int32)
    parts = _parts(cut_folds(skewed, FoldParams(kind="stratified"), COLUMNS))
    _tests_every_row_once(parts, N_ROWS)
    target = skewed["target"].to_numpy()
    assert [int(target[test].sum()) for _, test in parts.values()] == [3, 3, 3, 3]
    assert [int(target[train].sum()) for train, _ in parts.values()] == [9, 9, 9, 9]


def test_stratified_folds_refuse_a_class_smaller_than_n_splits(data):
    rare = data.copy()
    rare.loc[[3, 50, 90], "target"] = 2
    with _one_line_error(r"Class 2 of 'target' has 3 row\(s\), fewer than n_splits=4"):
        cut_folds(rare, FoldParams(kind="stratified"), COLUMNS)
    with _one_line_error(r"no column 'label' \(columns.target\)"):
        cut_folds(data, FoldParams(kind="stratified"), ColumnParams(target="label"))


def test_group_folds_never_split_a_group(data):
    parts = _parts(cut_folds(data, FoldParams(kind="group", n_splits=5), COLUMNS))
    _tests_every_row_once(parts, N_ROWS)
    stores = data["store"].to_numpy()
    tested = []
    for train, test in parts.values():
        assert not set(stores[train]) & set(stores[test])
        tested.extend(sorted(set(stores[test])))
    assert sorted(tested) == list("abcdefghij")


@pytest.mark.parametrize(
    ("columns", "change", "message"),
    [
        (ColumnParams(), None, r"kind: group needs a group column: set columns.group"),
        (ColumnParams(group="shop"), None, r"no column 'shop' \(columns.group\)"),
        (COLUMNS, "three", r"'store' has 3 group\(s\), fewer than n_splits=4"),
        (COLUMNS, "holes", r"'store' \(columns.group\) has 1 missing value\(s\) \(first at row 7"),
    ],
)
def test_group_folds_refuse_no_groups_or_too_few(data, columns, change, message):
    if change == "three":
        data["store"] = np.arange(N_ROWS) % 3
    elif change == "holes":
        data.loc[7, "store"] = None
    with _one_line_error(message):
        cut_folds(data, FoldParams(kind="group"), columns)


# -------------------------------------------------------------------------------- summary
def test_summary_of_time_windows(data):
    table = cut_folds(data, FoldParams(gap=2, test_size=20, n_splits=2), COLUMNS)
    summary = summarise_folds(data, table, COLUMNS)

    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert summary[["fold_id", "split", "n_rows", "first_row", "last_row", "runs"]].to_dict(
        "split"
    )["data"] == [
        [0, "train", 78, 0, 77, 1],
        [0, "test", 20, 80, 99, 1],
        [1, "train", 98, 0, 97, 1],
        [1, "test", 20, 100, 119, 1],
    ]
    assert summary["start"].tolist()[:2] == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-03-21")]
    assert summary["end"].tolist()[1] == pd.Timestamp("2024-04-09")
    # Every 4th row is positive: rows 80..99 hold 80, 84, ..., 96.
    assert summary["positives"].tolist() == [20, 5, 25, 5]
    assert summary["positive_ratio"].tolist() == pytest.approx([20 / 78, 0.25, 25 / 98, 0.25])
    assert summary["target_mean"].equals(summary["positive_ratio"])


@pytest.mark.parametrize("kind", ["kfold", "stratified", "group"])
def test_summary_of_k_folds_without_time(data, kind):
    rows = data.drop(columns="date")
    summary = summarise_folds(rows, cut_folds(rows, FoldParams(kind=kind), NO_TIME), NO_TIME)

    assert summary["split"].tolist() == ["train", "test"] * 4
    sums = summary.groupby("fold_id")[["n_rows", "positives"]].sum()
    assert (sums["n_rows"] == N_ROWS).all() and (sums["positives"] == 30).all()
    assert (summary["runs"] > 1).all()
    assert summary[["start", "end"]].isna().all().all()


def test_summary_of_a_regression_target_gives_its_mean(data):
    data["target"] = np.arange(N_ROWS, dtype=np.float64)
    table = cut_folds(data, FoldParams(kind="kfold", shuffle=False, n_splits=2), COLUMNS)
    summary = summarise_folds(data, table, COLUMNS)

    assert summary["target_mean"].tolist() == [89.5, 29.5, 29.5, 89.5]
    assert summary["positives"].isna().all() and summary["positive_ratio"].isna().all()


def test_summary_refuses_data_without_the_target_or_time(data):
    table = cut_folds(data, FoldParams(), COLUMNS)
    with _one_line_error(r"no column 'target' \(columns.target\) to summarise the folds by"):
        summarise_folds(data.drop(columns="target"), table, COLUMNS)
    with _one_line_error(r"no column 'date' \(columns.time\) to summarise the folds by"):
        summarise_folds(data.drop(columns="date"), table, COLUMNS)
    with _one_line_error(r"row positions must lie in 0..59"):
        summarise_folds(data.head(60), table, COLUMNS)
