"""The user's table (or the synthetic one) as the model input: columns checked, encoded, ordered.

One pass turns any table into what tuning reads: the features chosen by `params:columns`, each
categorical one as a pandas category with sorted categories (its codes are what LightGBM sees),
the label mapped to class numbers, rows with a missing label refused or dropped and counted,
rows ordered by the time column when there is one. Every refusal is one line naming the column
and the fix, raised before Spark starts.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
import pandas as pd

from spark_lgbm_tuning.executor.encoding import CATEGORY_UNSEEN, InputEncoding, category_codes
from spark_lgbm_tuning.vocabulary.columns import ColumnParams, select_features
from spark_lgbm_tuning.vocabulary.errors import InputDataError

logger = logging.getLogger(__name__)

Task = Literal["classification", "multiclass", "regression"]


def needed_columns(available: list[str], columns: ColumnParams) -> list[str]:
    """The columns preparation reads: features, target, time and group (a Spark table's select)."""
    probe = pd.DataFrame(columns=available)
    wanted = [columns.time, columns.group, *select_features(probe, columns), columns.target]
    missing = [name for name in (columns.time, columns.group) if name and name not in available]
    if missing:
        raise InputDataError(
            f"The table has no column {missing[0]!r} (columns.time / columns.group; columns: "
            f"{available[:12]}): name an existing column, or set it to null"
        )
    return [name for name in wanted if name is not None]


def _is_categorical(column: pd.Series, named: bool) -> bool:
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype):
        return True
    if pd.api.types.is_bool_dtype(dtype):
        return False  # 0/1 numbers already
    if pd.api.types.is_object_dtype(dtype):
        return True
    return named


def _categories(name: str, column: pd.Series, columns: ColumnParams) -> list[Any]:
    """The sorted distinct values of a categorical feature; refused past the stated limit."""
    if pd.api.types.is_float_dtype(column.dtype):
        whole = column.dropna()
        if not np.all(np.equal(np.mod(whole, 1), 0)):
            raise InputDataError(
                f"Column {name!r} is named in columns.categorical but holds fractional numbers: "
                "a categorical feature must hold integers or strings; drop it from "
                "columns.categorical"
            )
        column = column.astype("Int64")
    values = pd.unique(column.dropna())
    if len(values) > columns.max_categories:
        raise InputDataError(
            f"Categorical column {name!r} has {len(values)} distinct values, more than "
            f"columns.max_categories ({columns.max_categories}): add it to columns.exclude "
            "(an id?), or raise columns.max_categories"
        )
    plain = [value.item() if isinstance(value, np.generic) else value for value in values]
    try:
        return sorted(plain)
    except TypeError:  # mixed types: order by their text, deterministic all the same
        return sorted(plain, key=str)


def _feature_column(column: pd.Series, categories: list[Any] | None) -> pd.Series:
    if categories is None:
        if pd.api.types.is_bool_dtype(column.dtype):
            return column.astype(np.float32)
        return column
    if pd.api.types.is_float_dtype(column.dtype):
        column = column.astype("Int64")
    # The codes scoring gives new rows (executor/encoding.py): one mapping for both.
    codes = category_codes(column, categories)
    return pd.Series(
        pd.Categorical.from_codes(codes, categories), index=column.index, name=column.name
    )


def _labels(target: pd.Series, columns: ColumnParams, task: Task) -> tuple[pd.Series, tuple | None]:
    """The target as numbers, with the classes the numbers stand for (None: used as is)."""
    name = columns.target
    if task == "regression":
        if columns.positive_class is not None:
            raise InputDataError(
                "columns.positive_class is set but tuning.task is regression: drop "
                "positive_class, or set tuning.task: classification"
            )
        numeric = pd.to_numeric(target, errors="coerce")
        bad = target[numeric.isna()]
        if len(bad):
            raise InputDataError(
                f"The target column {name!r} holds non-numeric values such as {bad.iloc[0]!r}: "
                "regression needs numbers; fix them or set tuning.task: classification"
            )
        return numeric.astype(np.float64), None
    values = [_plain_label(value) for value in pd.unique(target)]
    if len(values) < 2:
        raise InputDataError(
            f"The target column {name!r} has one class only ({values[0]!r}) in "
            f"{len(target)} rows: a classifier needs two; check the column or the rows kept"
        )
    if task == "multiclass":
        return _class_numbers(target, values, columns)
    if len(values) > 2:
        raise InputDataError(
            f"The target column {name!r} has {len(values)} classes ({sorted(map(str, values))[:8]}):"
            " binary classification needs two: set tuning.task: multiclass, pick another target, "
            "or set tuning.task: regression for a numeric one"
        )
    positive = columns.positive_class
    if positive is None:
        if set(values) <= {0, 1}:  # 0/1 (or False/True) labels need no mapping
            return target.astype(np.float64), None
        raise InputDataError(
            f"The target column {name!r} has labels {sorted(map(str, values))}: name the one "
            "that is class 1 in columns.positive_class"
        )
    matches = [value for value in values if value == positive or str(value) == str(positive)]
    if not matches:
        raise InputDataError(
            f"columns.positive_class {positive!r} is not among the target's labels "
            f"{sorted(map(str, values))}: name one of them"
        )
    negative = values[1 - values.index(matches[0])]
    encoded = (target == matches[0]).astype(np.float64)
    return encoded, (negative, matches[0])


def _class_numbers(
    target: pd.Series, values: list[Any], columns: ColumnParams
) -> tuple[pd.Series, tuple]:
    """Multiclass labels as class numbers 0..K-1, in the labels' sorted order."""
    if columns.positive_class is not None:
        raise InputDataError(
            f"columns.positive_class is set ({columns.positive_class!r}) but tuning.task is "
            "multiclass, which has no positive class: drop positive_class"
        )
    try:
        classes = sorted(values)
    except TypeError:  # mixed types: order by their text, deterministic all the same
        classes = sorted(values, key=str)
    numbers = {value: number for number, value in enumerate(classes)}
    encoded = target.map(lambda value: numbers[_plain_label(value)]).astype(np.float64)
    logger.info(
        "Target %r: %d classes %s, numbered in that order", columns.target, len(classes), classes
    )
    return encoded, tuple(classes)


def _plain_label(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _drop_missing_target(table: pd.DataFrame, columns: ColumnParams) -> pd.DataFrame:
    missing = table[columns.target].isna()
    count = int(missing.sum())
    if not count:
        return table
    if columns.missing_target == "refuse":
        first = np.flatnonzero(missing.to_numpy())[:5].tolist()
        raise InputDataError(
            f"The target column {columns.target!r} is missing in {count} row(s) (first rows "
            f"{first}): fill them, or set columns.missing_target: drop to leave them out"
        )
    logger.warning(
        "Dropped %d of %d rows whose target %r is missing (columns.missing_target: drop)",
        count,
        len(table),
        columns.target,
    )
    return table.loc[~missing]


def _order_by_time(table: pd.DataFrame, time: str) -> pd.DataFrame:
    stamps = table[time]
    if not pd.api.types.is_datetime64_any_dtype(stamps) and not pd.api.types.is_numeric_dtype(
        stamps
    ):
        try:
            stamps = pd.to_datetime(stamps)
        except (TypeError, ValueError) as error:
            raise InputDataError(
                f"The time column {time!r} holds values that are not dates, such as "
                f"{table[time].iloc[0]!r}: fix them, or set columns.time: null to use row order"
            ) from error
        table = table.assign(**{time: stamps})
    if stamps.isna().any():
        raise InputDataError(
            f"The time column {time!r} is missing in {int(stamps.isna().sum())} row(s): fill "
            "them, drop those rows, or set columns.time: null to use row order"
        )
    if stamps.is_monotonic_increasing:
        return table
    logger.info("Ordered the %d rows by %r for the time-ordered folds", len(table), time)
    return table.sort_values(time, kind="stable")


def prepare_table(
    table: pd.DataFrame, columns: ColumnParams, task: Task
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The model input (time, group, features, target; rows renumbered) and its encoding."""
    table = table[needed_columns(list(map(str, table.columns)), columns)]
    features = select_features(table, columns)
    unknown = [name for name in columns.categorical if name not in features]
    if unknown:
        raise InputDataError(
            f"columns.categorical names {unknown}, which are not among the features "
            f"{features[:12]}: fix the names, or drop them from columns.categorical"
        )
    if table.empty:
        raise InputDataError("The input table has no rows")
    table = _drop_missing_target(table, columns)
    if columns.time is not None:
        table = _order_by_time(table, columns.time)
    table = table.reset_index(drop=True)
    target, classes = _labels(table[columns.target], columns, task)
    categories: dict[str, list[Any]] = {}
    prepared: dict[str, pd.Series] = {}
    for name in (columns.time, columns.group):
        if name is not None:
            prepared[name] = table[name]
    for name in features:
        column = table[name]
        if _is_categorical(column, named=name in columns.categorical):
            categories[name] = _categories(name, column, columns)
        prepared[name] = _feature_column(column, categories.get(name))
    prepared[columns.target] = target
    encoding = InputEncoding(
        target=columns.target,
        features=tuple(features),
        categories={name: tuple(values) for name, values in categories.items()},
        classes=classes,
    )
    if categories:
        logger.info(
            "Categorical features %s (%s)",
            {name: len(values) for name, values in categories.items()},
            CATEGORY_UNSEEN,
        )
    return pd.DataFrame(prepared), encoding.to_dict()
