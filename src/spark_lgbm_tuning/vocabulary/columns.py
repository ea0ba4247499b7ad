"""The one column setting (`params:columns`, conf/base/parameters.yml) and what reads it.

Preparation reads a table with these names (the user's `input_table`, or data_generation's
synthetic one), tuning trains on the prepared model input and reporting refits on it, so a
changed name applies to every pipeline at once.

The features are chosen one of three ways: an explicit list (`features`), a name prefix
(`feature_prefix`, the synthetic data's `feature_0 ...`), or, with both null, every column but
the target, the time and group columns and `exclude` (ids, leakage). On the prepared model input
a categorical feature has pandas' `category` dtype: its codes are what LightGBM sees.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from spark_lgbm_tuning.vocabulary.errors import InputDataError

# The prefix data_generation names its features with when `feature_prefix` is null.
GENERATED_PREFIX = "feature_"


class ColumnParams(BaseModel):
    """`params:columns`: the label, the model inputs and the columns that order or group rows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str = Field("target", min_length=1)
    features: list[str] | None = None
    feature_prefix: str | None = Field(GENERATED_PREFIX, min_length=1)
    exclude: list[str] = Field(default_factory=list)
    # Numeric columns to give LightGBM as categorical (string, boolean and pandas category
    # columns are categorical whatever this says).
    categorical: list[str] = Field(default_factory=list)
    max_categories: int = Field(1000, ge=2)
    time: str | None = Field("date", min_length=1)
    group: str | None = Field(None, min_length=1)
    # Classification labels: the label value that becomes class 1 (strings such as "yes", "UP").
    positive_class: str | int | bool | None = None
    missing_target: Literal["refuse", "drop"] = "refuse"

    @model_validator(mode="after")
    def _roles_do_not_overlap(self) -> ColumnParams:
        roles = [self.target, self.time, self.group]
        named = [name for name in roles if name is not None]
        if len(set(named)) != len(named):
            raise ValueError(
                f"columns.target, columns.time and columns.group must name different columns, "
                f"got {named}"
            )
        clash = sorted(set(self.features or []) & set(named))
        if clash:
            raise ValueError(
                f"columns.features lists {clash}, which is also the target, time or group column"
            )
        return self

    def feature_name(self, index: int) -> str:
        """The synthetic data's name of feature `index`."""
        return f"{self.feature_prefix or GENERATED_PREFIX}{index}"

    @property
    def non_features(self) -> list[str]:
        """The columns that are never model inputs: target, time, group and `exclude`."""
        roles = [self.target, self.time, self.group]
        return [name for name in roles if name is not None] + list(self.exclude)


def _shown(data: pd.DataFrame) -> list[str]:
    return list(map(str, data.columns))[:12]


def select_features(data: pd.DataFrame, columns: ColumnParams) -> list[str]:
    """The feature columns by the setting (list, prefix, or all others), in the data's order.

    Fails in one line naming a missing target or listed feature, or no feature at all.
    """
    if columns.target not in data.columns:
        raise InputDataError(
            f"The data has no target column {columns.target!r} (columns: {_shown(data)}): set "
            "columns.target to the label's name"
        )
    if columns.features is not None:
        missing = [name for name in columns.features if name not in data.columns]
        if missing:
            raise InputDataError(
                f"columns.features names {missing}, which the data lacks (columns: "
                f"{_shown(data)}): fix the names or drop them from columns.features"
            )
        return list(columns.features)
    skip = set(columns.non_features)
    if columns.feature_prefix is not None:
        features = [
            str(name)
            for name in data.columns
            if str(name).startswith(columns.feature_prefix) and name not in skip
        ]
        how = f"no {columns.feature_prefix}* columns"
        fix = (
            f"name the model's inputs {columns.feature_name(0)}, {columns.feature_name(1)}, ... "
            "or set columns.features (a list), or columns.feature_prefix: null for every column "
            "but the target, time, group and columns.exclude"
        )
    else:
        features = [str(name) for name in data.columns if name not in skip]
        how = "no column left besides the target, time, group and columns.exclude"
        fix = "exclude fewer columns"
    if not features:
        raise InputDataError(f"The data has {how} (columns: {_shown(data)}): {fix}")
    return features


def feature_columns(data: pd.DataFrame, columns: ColumnParams) -> list[str]:
    """The prepared model input's features: numeric, boolean or categorical; fails otherwise."""
    features = select_features(data, columns)
    bad = {
        str(column): str(data[column].dtype)
        for column in features
        if not (
            pd.api.types.is_numeric_dtype(data[column])
            or pd.api.types.is_bool_dtype(data[column])
            or isinstance(data[column].dtype, pd.CategoricalDtype)
        )
    }
    if bad:
        raise InputDataError(
            f"Feature column(s) {bad} are neither numeric nor categorical in the model input: "
            "prepare the table first (kedro run: preparation encodes strings as categories)"
        )
    return features


def target_values(data: pd.DataFrame, columns: ColumnParams) -> np.ndarray:
    """The target as float64; fails when it is not numeric or holds NaN or infinite values."""
    target = data[columns.target]
    if not pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target):
        raise InputDataError(
            f"The target column {columns.target!r} has dtype {target.dtype}: it must be numeric "
            "(0/1 for classification); the preparation pipeline maps string labels"
        )
    values = target.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise InputDataError(
            f"The target has {len(bad)} NaN or infinite value(s) (first rows {bad[:5].tolist()}): "
            "drop or fill those rows before tuning"
        )
    return values
