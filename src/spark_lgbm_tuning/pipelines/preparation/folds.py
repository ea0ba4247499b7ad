"""Cross-validation folds for any data, and their per-fold summary.

With time order (the `columns.time` column, or the row order when it is null) the folds are
expanding or sliding windows, as sklearn's TimeSeriesSplit cuts them, with an optional gap of
rows left out between train and test. Without it they are k-fold, stratified k-fold on the
target, or group k-fold on `columns.group`. Every kind gives the same fold table
(spark_lgbm_tuning.pipelines.tuning.folds) and the same summary, so tuning, the report and
the fold plots never branch on the kind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Literal, Self

import numpy as np
import pandas as pd
from pydantic import ConfigDict, Field, model_validator
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold, TimeSeriesSplit

from spark_lgbm_tuning.pipelines.tuning.folds import FOLD_COLUMNS, SPLITS, fold_rows
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from spark_lgbm_tuning.vocabulary.errors import InputDataError
from spark_lgbm_tuning.vocabulary.params_model import ParamsModel

logger = logging.getLogger(__name__)

#: One fold's (train, test) row positions.
Split = tuple[np.ndarray, np.ndarray]
FoldKind = Literal["expanding", "sliding", "kfold", "stratified", "group"]
#: The kinds that keep time (or row) order: train always precedes test.
TIME_KINDS = ("expanding", "sliding")
#: fold_summary's columns, in order: one row per (fold_id, split), whatever the kind.
SUMMARY_COLUMNS = (
    "fold_id",
    "split",
    "n_rows",
    "first_row",
    "last_row",
    # Unbroken runs of consecutive rows: 1 for a time window, many for a k-fold part.
    "runs",
    "start",
    "end",
    "positives",
    "positive_ratio",
    "target_mean",
)


class FoldParams(ParamsModel):
    """`params:preparation.folds`: the kind of folds and its settings.

    `gap`, `test_size` and `train_size` shape time windows (expanding, sliding); `shuffle` and
    `seed` the k-fold kinds. `train_size` is TimeSeriesSplit's `max_train_size`: each sliding
    training window holds the last `train_size` rows before the gap (fewer in an early fold
    that has fewer rows before it); null means the first fold's training rows, so that every
    window holds the same count.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FoldKind = "expanding"
    n_splits: int = Field(4, ge=2, le=100)
    gap: int = Field(0, ge=0, description="rows left out between train and test (time kinds)")
    test_size: int | None = Field(
        None, ge=1, description="rows per test window; null: n_rows // (n_splits + 1)"
    )
    train_size: int | None = Field(
        None, ge=1, description="sliding: rows per training window; null: the first fold's"
    )
    shuffle: bool = Field(True, description="k-fold kinds: shuffle rows (groups) before cutting")
    seed: int = Field(42, ge=0, lt=2**32, description="k-fold kinds: the shuffle's seed")

    @model_validator(mode="after")
    def _settings_fit_the_kind(self) -> Self:
        if self.kind not in TIME_KINDS:
            # gap's default 0 is no window setting; any other value is one.
            given = {"gap": self.gap or None, "test_size": self.test_size}
            for name, value in {**given, "train_size": self.train_size}.items():
                if value is not None:
                    raise ValueError(
                        f"{name}={value} shapes time windows, which kind {self.kind!r} does "
                        f"not cut: drop {name} or set kind to expanding or sliding"
                    )
        elif self.kind == "expanding" and self.train_size is not None:
            raise ValueError(
                f"train_size={self.train_size} bounds sliding windows; expanding ones grow: "
                "drop train_size or set kind: sliding"
            )
        return self


def _window_sizes(n_rows: int, params: FoldParams) -> tuple[int, int]:
    """(rows per test window, rows the first fold trains on) of the time kinds."""
    test_size = params.test_size or n_rows // (params.n_splits + 1)
    return test_size, n_rows - params.gap - params.n_splits * test_size


def check_rows_for_folds(n_rows: int, params: FoldParams) -> None:
    """Fail in one line unless every fold gets >= 1 training row and >= 1 test row."""
    k, gap = params.n_splits, params.gap
    if params.kind not in TIME_KINDS:
        if n_rows < k:
            raise InputDataError(
                f"{n_rows} rows are too few for {params.kind} folds with n_splits={k}: each "
                "fold's test part needs a row; lower n_splits or use more rows"
            )
        return
    test_size, first_train = _window_sizes(n_rows, params)
    if test_size >= 1 and first_train >= 1:
        return
    # Exact for a fixed test_size; with the default n // (k + 1) this many rows always suffice.
    enough = gap + k * params.test_size + 1 if params.test_size else (gap + 1) * (k + 1)
    raise InputDataError(
        f"{n_rows} rows are too few for {params.kind} folds with n_splits={k} (gap={gap}, "
        f"test_size={params.test_size}): the first training window would hold {first_train} "
        f"rows and each test window {test_size}; use >= {enough} rows or fewer n_splits"
    )


def _column(data: pd.DataFrame, name: str, setting: str, why: str) -> pd.Series:
    """`data[name]`, refused in one line when absent or holding missing values."""
    if name not in data.columns:
        raise InputDataError(
            f"The data has no column {name!r} ({setting}) {why}: fix {setting} "
            f"(columns: {list(map(str, data.columns))[:12]})"
        )
    column = data[name]
    missing = int(column.isna().sum())
    if missing:
        first = int(np.flatnonzero(column.isna().to_numpy())[0])
        raise InputDataError(
            f"The column {name!r} ({setting}) has {missing} missing value(s) (first at row "
            f"{first}) {why}: drop or fill those rows"
        )
    return column


def _check_time_order(data: pd.DataFrame, time: str) -> None:
    column = _column(data, time, "columns.time", "to order the folds by")
    if not column.is_monotonic_increasing:
        values = column.to_numpy()
        first = int(np.flatnonzero(values[1:] < values[:-1])[0]) + 1
        raise InputDataError(
            f"The data is not sorted by {time!r} (columns.time): row {first} comes before row "
            f"{first - 1}; sort the table by {time!r}, or set columns.time: null to use the "
            "row order as time"
        )


def membership_table(parts: list[Split]) -> pd.DataFrame:
    """The long fold table: one row per (fold_id, split, row), rows ascending in each split."""
    arrays = [np.sort(rows) for pair in parts for rows in pair]
    sizes = [len(rows) for rows in arrays]
    fold_id, split, row = FOLD_COLUMNS
    return pd.DataFrame(
        {
            fold_id: np.repeat(np.arange(len(arrays), dtype=np.int32) // 2, sizes),
            split: np.repeat(np.array(list(SPLITS) * len(parts), dtype=object), sizes),
            row: np.concatenate(arrays).astype(np.int64, copy=False),
        }
    )


def _splits(data: pd.DataFrame, params: FoldParams, columns: ColumnParams) -> Iterator[Split]:
    """sklearn's (train, test) position pairs for the kind, after its data checks."""
    k, n_rows = params.n_splits, len(data)
    placeholder = np.empty((n_rows, 1))
    seed = params.seed if params.shuffle else None
    if params.kind in TIME_KINDS:
        if columns.time is not None:
            _check_time_order(data, columns.time)
        check_rows_for_folds(n_rows, params)
        train_size = params.train_size
        if params.kind == "sliding" and train_size is None:
            train_size = _window_sizes(n_rows, params)[1]
        splitter = TimeSeriesSplit(
            n_splits=k, gap=params.gap, test_size=params.test_size, max_train_size=train_size
        )
        return splitter.split(placeholder)
    check_rows_for_folds(n_rows, params)
    if params.kind == "kfold":
        return KFold(n_splits=k, shuffle=params.shuffle, random_state=seed).split(placeholder)
    if params.kind == "stratified":
        target = _column(data, columns.target, "columns.target", "to stratify the folds by")
        counts = target.value_counts(ascending=True)
        if counts.iloc[0] < k:
            # tolist() gives the label as Python spells it (2, 'yes'), not np.int32(2).
            rarest = counts.index.tolist()[0]
            raise InputDataError(
                f"Class {rarest!r} of {columns.target!r} has {counts.iloc[0]} row(s), "
                f"fewer than n_splits={k}: stratified folds need each class in every fold; "
                "lower n_splits, or use kind: kfold (also for a regression target)"
            )
        splitter = StratifiedKFold(n_splits=k, shuffle=params.shuffle, random_state=seed)
        return splitter.split(placeholder, target.to_numpy())
    if columns.group is None:
        raise InputDataError(
            "kind: group needs a group column: set columns.group to the column whose rows "
            "must stay together (a customer, a store), or use kind: kfold"
        )
    groups = _column(data, columns.group, "columns.group", "to keep groups whole by")
    n_groups = groups.nunique()
    if n_groups < k:
        raise InputDataError(
            f"The group column {columns.group!r} has {n_groups} group(s), fewer than "
            f"n_splits={k}: lower n_splits to at most {n_groups} or use kind: kfold"
        )
    splitter = GroupKFold(n_splits=k, shuffle=params.shuffle, random_state=seed)
    return splitter.split(placeholder, groups=groups.to_numpy())


def cut_folds(data: pd.DataFrame, params: FoldParams, columns: ColumnParams) -> pd.DataFrame:
    """The fold table of `data` for `params.kind`: one row per (fold_id, split, row).

    Columns: `fold_id` (int32, 0..n_splits-1), `split` ("train"/"test"), `row` (int64, the
    0-based position in `data`). Data problems fail in one line naming the column or setting.
    """
    table = membership_table(list(_splits(data, params, columns)))
    logger.info(
        "Cut %d %s folds of %d rows into %d membership rows",
        params.n_splits,
        params.kind,
        len(data),
        len(table),
    )
    return table


def _runs(positions: np.ndarray) -> int:
    """How many unbroken runs of consecutive rows the sorted positions form."""
    return int(np.count_nonzero(np.diff(positions) != 1)) + 1 if len(positions) else 0


def _target_stats(target: pd.Series) -> tuple[np.ndarray | None, bool]:
    """The target as float64 (None when not numeric), and whether it is a 0/1 label."""
    if not (pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target)):
        return None, False
    values = target.to_numpy(dtype=np.float64, na_value=np.nan)
    return values, bool(np.isin(values, (0.0, 1.0)).all())


def summarise_folds(data: pd.DataFrame, folds: pd.DataFrame, columns: ColumnParams) -> pd.DataFrame:
    """Per (fold_id, split): rows, row span and runs, time span, positives and target mean.

    `start`/`end` are the split's first and last `columns.time` (NaT when it is null);
    `positives`/`positive_ratio` count class 1 of a 0/1 target (missing otherwise);
    `target_mean` is the mean of any numeric target (the positive ratio of a 0/1 one).
    """
    why = "to summarise the folds by"
    target, binary = _target_stats(_column(data, columns.target, "columns.target", why))
    time = None if columns.time is None else _column(data, columns.time, "columns.time", why)
    rows = fold_rows(folds, None, len(data))
    time = None if time is None else time.to_numpy()
    values: dict[str, list] = {column: [] for column in SUMMARY_COLUMNS}
    for fold_id, parts in rows.items():
        for split, positions in zip(SPLITS, parts, strict=True):
            values["fold_id"].append(fold_id)
            values["split"].append(split)
            values["n_rows"].append(len(positions))
            values["first_row"].append(positions[0])
            values["last_row"].append(positions[-1])
            values["runs"].append(_runs(positions))
            values["start"].append(None if time is None else time[positions].min())
            values["end"].append(None if time is None else time[positions].max())
            mean = np.nan if target is None else float(target[positions].mean())
            values["positives"].append(int(target[positions].sum()) if binary else None)
            values["positive_ratio"].append(mean if binary else np.nan)
            values["target_mean"].append(mean)
    summary = pd.DataFrame({column: values[column] for column in SUMMARY_COLUMNS})
    if time is not None:
        # numpy arrays keep the time column's unit (a list of datetime64[us] becomes ns).
        summary["start"] = np.array(values["start"])
        summary["end"] = np.array(values["end"])
    else:
        summary[["start", "end"]] = pd.NaT
    integers = dict.fromkeys(("n_rows", "first_row", "last_row", "runs"), np.int64)
    summary = summary.astype({"fold_id": np.int32, **integers, "positives": "Int64"})
    for part in summary.itertuples():
        logger.info(
            "Fold %d %s: %d rows (%d..%d in %d run(s), %s .. %s), target mean %.3f",
            *(getattr(part, name) for name in ("fold_id", "split", "n_rows", "first_row")),
            *(getattr(part, name) for name in ("last_row", "runs", "start", "end")),
            part.target_mean,
        )
    return summary
