"""A fold as LightGBM data: bin the train part, bin the test part with its bins, write, load.

The driver bins and writes each fold once (pipelines/tuning/shipping.py); executors load it
(`trial.load_shipped_fold`); a notebook builds one in memory with `fold_from_arrays`. No Kedro,
no pyspark: executors import it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import lightgbm as lgb
import numpy as np

from spark_lgbm_tuning.vocabulary.lightgbm_params import CATEGORICAL_PARAM, dataset_params

# The categorical features travel as the `categorical_feature` parameter, which LightGBM's core
# reads when binning; its Python layer warns that the parameter "will be ignored", which is not
# so (the model has categorical splits). The constructor argument would be the quiet way, but
# lgb.train then re-sets it on the constructed Dataset and fails once the raw data is freed.
warnings.filterwarnings(
    "ignore",
    message=f"{CATEGORICAL_PARAM} keyword has been found in `params`",
    category=UserWarning,
)


@dataclass
class FoldData:
    """A fold ready for training: the binned train part and the test part.

    A shipped fold's raw test features are memory-mapped: trials score from LightGBM's
    validation predictions, so the pages are read only when a trial predicts again.
    """

    train: lgb.Dataset
    x_test: np.ndarray
    y_test: np.ndarray
    load_s: float = field(default=0.0)
    # The test part binned with the train part's bins: shipped binned, or built by the first
    # trial that needs it; kept with the cached fold (LightGBM only reads a validation Dataset).
    valid: lgb.Dataset | None = field(default=None, repr=False)

    def validation_set(self, params: Mapping) -> lgb.Dataset:
        """The test part as a LightGBM validation Dataset, binned once per fold."""
        if self.valid is None:
            self.valid = bin_test_part(self.x_test, self.y_test, self.train, params)
        return self.valid

    @property
    def n_train(self) -> int:
        return int(self.train.num_data())

    @property
    def n_test(self) -> int:
        return len(self.y_test)


def bin_train_part(x_train: np.ndarray, y_train: np.ndarray, params: Mapping) -> lgb.Dataset:
    """Bin the train part once, with the Dataset parameters found in `params`."""
    train = lgb.Dataset(x_train, label=y_train, params=dataset_params(params))
    return train.construct()


def bin_test_part(
    x_test: np.ndarray, y_test: np.ndarray, train: lgb.Dataset, params: Mapping
) -> lgb.Dataset:
    """Bin the test part with the train part's bin boundaries, as a validation Dataset."""
    return lgb.Dataset(
        x_test, label=y_test, reference=train, params=dataset_params(params)
    ).construct()


def fold_from_arrays(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    params: Mapping,
) -> FoldData:
    """Build a fold in memory (driver, notebook, tests), binned exactly as the shipped binary."""
    started = time.perf_counter()
    train = bin_train_part(np.asarray(x_train, dtype=np.float32), y_train, params)
    return FoldData(
        train=train,
        x_test=np.asarray(x_test, dtype=np.float32),
        y_test=np.asarray(y_test, dtype=np.float64),
        load_s=time.perf_counter() - started,
    )


def write_test_part(x_test: np.ndarray, y_test: np.ndarray, x_path: Path, y_path: Path) -> None:
    """Save the test part as float32 features and float64 labels (.npy)."""
    np.save(x_path, np.asarray(x_test, dtype=np.float32))
    np.save(y_path, np.asarray(y_test, dtype=np.float64))


def load_fold(
    train_path: str,
    test_x_path: str,
    test_y_path: str,
    params: Mapping,
    valid_path: str | None = None,
) -> FoldData:
    """Load a fold from LightGBM binaries (train part, optionally the binned test part) and the
    test part's .npy files (features memory-mapped)."""
    started = time.perf_counter()
    train = lgb.Dataset(str(train_path), params=dataset_params(params)).construct()
    valid = None
    if valid_path is not None:
        # With the train part as reference, lgb.train accepts it as is; LightGBM refuses a
        # binary whose bins differ from the train part's.
        valid = lgb.Dataset(
            str(valid_path), reference=train, params=dataset_params(params)
        ).construct()
    return FoldData(
        train=train,
        x_test=np.load(test_x_path, mmap_mode="r"),
        y_test=np.load(test_y_path),
        load_s=time.perf_counter() - started,
        valid=valid,
    )
