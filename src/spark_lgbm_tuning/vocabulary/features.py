"""The model input's features as LightGBM's numbers: a category is its code, missing is NaN.

No pydantic, no Kedro: the executors' scoring (executor/encoding.py) imports it as the driver's
tuning does (pipelines/tuning/folds.py), so both see the same numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def categorical_features(data: pd.DataFrame, features: list[str]) -> list[str]:
    """The features the prepared model input holds as pandas categories."""
    return [name for name in features if isinstance(data[name].dtype, pd.CategoricalDtype)]


def feature_matrix(data: pd.DataFrame, features: list[str]) -> np.ndarray:
    """The features as float32, a category as its code (missing: NaN, as LightGBM expects)."""
    matrix = np.empty((len(data), len(features)), dtype=np.float32)
    for index, name in enumerate(features):
        column = data[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy(dtype=np.float32)
            codes[codes < 0] = np.nan
            matrix[:, index] = codes
        else:
            matrix[:, index] = column.to_numpy(dtype=np.float32, na_value=np.nan)
    return matrix
