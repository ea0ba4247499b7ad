"""The one column-name setting (`params:columns`, conf/base/parameters.yml) and what reads it.

Data generation writes these names, tuning trains on them and reporting refits on them, so a
changed name applies to every pipeline at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from spark_lgbm_tuning.vocabulary.errors import InputDataError


class ColumnParams(BaseModel):
    """`params:columns`: the label, the model inputs' name prefix and the time column."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str = Field("target", min_length=1)
    feature_prefix: str = Field("feature_", min_length=1)
    time: str = Field("date", min_length=1)

    def feature_name(self, index: int) -> str:
        return f"{self.feature_prefix}{index}"


def feature_columns(data: pd.DataFrame, columns: ColumnParams) -> list[str]:
    """The numeric `feature_prefix*` columns in the data's order; fails naming what is wrong."""
    shown = list(map(str, data.columns))[:10]
    if columns.target not in data.columns:
        raise InputDataError(
            f"The data has no target column {columns.target!r} (columns: {shown}): set "
            "columns.target to the label's name, or rerun data_generation"
        )
    features = [column for column in data.columns if str(column).startswith(columns.feature_prefix)]
    if not features:
        raise InputDataError(
            f"The data has no {columns.feature_prefix}* columns (columns: {shown}): name the "
            f"model's inputs {columns.feature_name(0)}, {columns.feature_name(1)}, ... or set "
            "columns.feature_prefix"
        )
    bad = {
        str(column): str(data[column].dtype)
        for column in features
        if not (
            pd.api.types.is_numeric_dtype(data[column]) or pd.api.types.is_bool_dtype(data[column])
        )
    }
    if bad:
        raise InputDataError(
            f"Feature column(s) {bad} are not numeric: LightGBM needs numbers. Encode them "
            f"(e.g. category codes) or rename them without the {columns.feature_prefix!r} prefix"
        )
    return features


def target_values(data: pd.DataFrame, columns: ColumnParams) -> np.ndarray:
    """The target as float64; fails when it is not numeric or holds NaN or infinite values."""
    target = data[columns.target]
    if not pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target):
        raise InputDataError(
            f"The target column {columns.target!r} has dtype {target.dtype}: it must be numeric "
            "(0/1 for classification)"
        )
    values = target.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise InputDataError(
            f"The target has {len(bad)} NaN or infinite value(s) (first rows {bad[:5].tolist()}): "
            "drop or fill those rows before tuning"
        )
    return values
