"""One hyperparameter trial: load a fold, fit LightGBM with early stopping, score it.

This is the code Spark executors run, one trial per task. It imports no Kedro and nothing from the
project, so executors only need LightGBM, scikit-learn, numpy, psutil and pyspark. The same
`run_trial(spec, fold)` runs on the driver without Spark, so a notebook can debug a single trial:

    fold = fold_from_arrays(x_train, y_train, x_test, y_test, params)
    row = run_trial(TrialSpec(..., params=params), fold)
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import psutil
from pyspark import SparkFiles, TaskContext
from pyspark.accumulators import AccumulatorParam
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    f1_score,
    log_loss,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "auc_roc", "logloss")
REGRESSION_METRICS = ("rmse", "mae", "r2")
METRICS = CLASSIFICATION_METRICS + REGRESSION_METRICS
TASK_METRICS = {"classification": CLASSIFICATION_METRICS, "regression": REGRESSION_METRICS}
HIGHER_IS_BETTER = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "auc_roc": True,
    "logloss": False,
    "rmse": False,
    "mae": False,
    "r2": True,
}
# Objectives whose predictions are P(class 1), which the classification metrics assume.
CLASSIFICATION_OBJECTIVES = frozenset({"binary", "cross_entropy", "xentropy"})
CLASSIFICATION_THRESHOLD = 0.5

# LightGBM parameters fixed when a Dataset is binned (LightGBM refuses to change them on a
# constructed Dataset): trials that differ in one of these need their own binary.
DATASET_PARAMS = frozenset(
    {
        "bin_construct_sample_cnt",
        "data_random_seed",
        "enable_bundle",
        "feature_pre_filter",
        "forcedbins_filename",
        "is_enable_sparse",
        "linear_tree",
        "max_bin",
        "max_bin_by_feature",
        "min_data_in_bin",
        "pre_partition",
        "two_round",
        "use_missing",
        "zero_as_missing",
    }
)

# Every column of a result row after trial_id/combo_id/fold_id and the param_<name> columns.
RESULT_COLUMNS = (
    "params_json",
    "status",
    "error",
    *METRICS,
    "best_iteration",
    "n_train",
    "n_test",
    "data_load_s",
    "fit_s",
    "predict_s",
    "peak_rss_mb",
    "cpu_utilisation",
    "executor_id",
    "host",
    "started_at",
    "ended_at",
    "classification_report",
)


def stable_hash(payload: Any, length: int = 16) -> str:
    """Hex digest of a JSON-serialisable payload that is the same in every process and run."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def dataset_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of LightGBM `params` that binning depends on, as used to build a Dataset.

    `feature_pre_filter` defaults to False: with it on, LightGBM drops features that cannot split
    under the first `min_child_samples` it sees, and a later trial may not lower that value.
    """
    subset = {name: value for name, value in params.items() if name in DATASET_PARAMS}
    subset.setdefault("feature_pre_filter", False)
    subset["verbosity"] = params.get("verbosity", -1)
    return subset


@dataclass
class TrialSpec:
    """Everything one trial needs besides the fold data; picklable, so Spark ships it to a task."""

    trial_id: str
    combo_id: str
    fold_id: int
    task: str
    params: dict[str, Any]
    grid_names: tuple[str, ...]
    num_boost_round: int
    early_stopping_rounds: int
    primary_metric: str
    # Names (SparkFiles basenames) of the shipped fold files; None when run on local arrays.
    train_file: str | None = None
    test_x_file: str | None = None
    test_y_file: str | None = None
    run_token: str | None = None


@dataclass
class FoldData:
    """A fold ready for training: the binned train part and the raw test part."""

    train: lgb.Dataset
    x_test: np.ndarray
    y_test: np.ndarray
    load_s: float = field(default=0.0)

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


def load_fold(train_path: str, test_x_path: str, test_y_path: str, params: Mapping) -> FoldData:
    """Load a fold from a LightGBM binary and the test part's .npy files."""
    started = time.perf_counter()
    train = lgb.Dataset(str(train_path), params=dataset_params(params)).construct()
    return FoldData(
        train=train,
        x_test=np.load(test_x_path),
        y_test=np.load(test_y_path),
        load_s=time.perf_counter() - started,
    )


class _ProcessState:
    """What one Python worker keeps between tasks.

    A reused worker (spark.python.worker.reuse) runs many trials: it loads each shipped fold once.
    Folds are keyed by file names and dropped when a new search (run token) starts.
    """

    def __init__(self) -> None:
        self.run_token: str | None = None
        self.folds: dict[tuple[str, str, str], FoldData] = {}
        self.executor_id: str | None = None


_STATE = _ProcessState()


def load_shipped_fold(spec: TrialSpec) -> tuple[FoldData, float]:
    """The fold of `spec` from the files the driver shipped with SparkContext.addFile.

    Returns the fold and the seconds this call spent loading (0 on a cache hit).
    """
    if spec.train_file is None or spec.test_x_file is None or spec.test_y_file is None:
        raise ValueError(f"Trial {spec.trial_id} names no shipped fold files")
    if _STATE.run_token != spec.run_token:
        _STATE.folds.clear()
        _STATE.run_token = spec.run_token
    key = (spec.train_file, spec.test_x_file, spec.test_y_file)
    if key in _STATE.folds:
        return _STATE.folds[key], 0.0
    fold = load_fold(
        SparkFiles.get(spec.train_file),
        SparkFiles.get(spec.test_x_file),
        SparkFiles.get(spec.test_y_file),
        spec.params,
    )
    _STATE.folds[key] = fold
    return fold, fold.load_s


def _executor_id() -> str:
    """Spark's id of the executor running this process; "driver" in local mode, "local" off Spark.

    PySpark's TaskContext does not expose it, so read it from the executor JVM that started this
    Python worker (its command line carries `--executor-id N`).
    """
    if "SPARK_EXECUTOR_ID" in os.environ:
        return os.environ["SPARK_EXECUTOR_ID"]
    if TaskContext.get() is None:
        return "local"
    try:
        for process in psutil.Process().parents():
            cmdline = process.cmdline()
            if cmdline and os.path.basename(cmdline[0]).startswith("java"):
                if "--executor-id" in cmdline:
                    return cmdline[cmdline.index("--executor-id") + 1]
                return "driver"
    except (psutil.Error, IndexError):
        pass
    return f"pid-{os.getppid()}"


def executor_id() -> str:
    """The executor id of this process, looked up once."""
    if _STATE.executor_id is None:
        _STATE.executor_id = _executor_id()
    return _STATE.executor_id


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_rss_mb(process: psutil.Process, peak_was_reset: bool, sampled_rss: int) -> float:
    """Peak RSS since the reset (VmHWM), else the largest RSS psutil sampled during the trial."""
    rss = max(sampled_rss, process.memory_info().rss)
    if peak_was_reset:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    rss = max(rss, int(line.split()[1]) * 1024)
                    break
        except (OSError, ValueError):
            pass
    return rss / 2**20


def classification_metrics(y_true: np.ndarray, probability: np.ndarray) -> dict[str, Any]:
    """Metrics of P(class 1) against 0/1 labels; the report is sklearn's, as JSON."""
    labels = np.asarray(y_true).astype(int)
    predicted = (probability >= CLASSIFICATION_THRESHOLD).astype(int)
    # AUC is undefined on a test part with a single class; keep the other metrics.
    auc = roc_auc_score(labels, probability) if len(np.unique(labels)) == 2 else None
    report = classification_report(labels, predicted, output_dict=True, zero_division=0)
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision": float(precision_score(labels, predicted, zero_division=0)),
        "recall": float(recall_score(labels, predicted, zero_division=0)),
        "f1": float(f1_score(labels, predicted, zero_division=0)),
        "auc_roc": None if auc is None else float(auc),
        "logloss": float(log_loss(labels, probability, labels=[0, 1])),
        "classification_report": json.dumps(report, sort_keys=True),
    }


def regression_metrics(y_true: np.ndarray, prediction: np.ndarray) -> dict[str, Any]:
    """RMSE, MAE and R² of the predictions."""
    return {
        "rmse": float(root_mean_squared_error(y_true, prediction)),
        "mae": float(mean_absolute_error(y_true, prediction)),
        "r2": float(r2_score(y_true, prediction)),
    }


def error_text(error: BaseException) -> str:
    """ "ExceptionType: message" on one line (LightGBM's messages end in " .\n")."""
    message = " ".join(str(error).split()).removesuffix(" .")
    return f"{type(error).__name__}: {message}"


def new_row(spec: TrialSpec) -> dict[str, Any]:
    """A result row with every column present and nothing measured yet."""
    row: dict[str, Any] = {
        "trial_id": spec.trial_id,
        "combo_id": spec.combo_id,
        "fold_id": int(spec.fold_id),
    }
    for name in spec.grid_names:
        row[f"param_{name}"] = spec.params.get(name)
    row.update(dict.fromkeys(RESULT_COLUMNS))
    row["params_json"] = json.dumps(spec.params, sort_keys=True)
    row["executor_id"] = executor_id()
    row["host"] = socket.gethostname()
    row["started_at"] = datetime.now(UTC)
    return row


def failed_row(spec: TrialSpec, error: BaseException) -> dict[str, Any]:
    """The row of a trial that could not run at all (e.g. its fold could not be binned)."""
    row = new_row(spec)
    row["status"] = "failed"
    row["error"] = error_text(error)
    row["ended_at"] = row["started_at"]
    return row


def _fit_and_score(spec: TrialSpec, fold: FoldData, row: dict[str, Any]) -> None:
    row["n_train"] = fold.n_train
    row["n_test"] = fold.n_test
    started = time.perf_counter()
    valid = lgb.Dataset(
        fold.x_test, label=fold.y_test, reference=fold.train, params=dataset_params(spec.params)
    ).construct()
    row["data_load_s"] = fold.load_s + time.perf_counter() - started

    process = psutil.Process()
    peak_was_reset = _reset_peak_rss()
    rss_before = process.memory_info().rss
    cpu_before = process.cpu_times()
    started = time.perf_counter()
    booster = lgb.train(
        spec.params,
        fold.train,
        num_boost_round=spec.num_boost_round,
        valid_sets=[valid],
        valid_names=["test"],
        callbacks=[lgb.early_stopping(spec.early_stopping_rounds, verbose=False)],
    )
    fit_s = time.perf_counter() - started
    cpu_after = process.cpu_times()
    row["fit_s"] = fit_s
    threads = int(spec.params.get("num_threads") or os.cpu_count() or 1)
    cpu_s = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    row["cpu_utilisation"] = cpu_s / (fit_s * threads) if fit_s > 0 else None

    best_iteration = booster.best_iteration or booster.current_iteration()
    row["best_iteration"] = int(best_iteration)
    started = time.perf_counter()
    prediction = booster.predict(fold.x_test, num_iteration=best_iteration)
    row["predict_s"] = time.perf_counter() - started
    row["peak_rss_mb"] = _peak_rss_mb(process, peak_was_reset, rss_before)

    if spec.task == "classification":
        row.update(classification_metrics(fold.y_test, prediction))
    else:
        row.update(regression_metrics(fold.y_test, prediction))


def run_trial(spec: TrialSpec, fold: FoldData) -> dict[str, Any]:
    """Train, evaluate and time one trial; never raises for a trial's own error.

    A failing trial (bad parameter value, degenerate fold) comes back with status "failed" and
    "ExceptionType: message", so Spark does not retry a failure that would repeat.
    """
    row = new_row(spec)
    try:
        _fit_and_score(spec, fold, row)
    except Exception as error:
        row["status"] = "failed"
        row["error"] = error_text(error)
    else:
        row["status"] = "ok"
    row["ended_at"] = datetime.now(UTC)
    return row


def primary_score(row: Mapping[str, Any], metric: str) -> float | None:
    """The row's primary metric, or None when it failed or the metric is undefined."""
    value = row.get(metric)
    if row.get("status") != "ok" or value is None or not math.isfinite(value):
        return None
    return float(value)


class ProgressParam(AccumulatorParam):
    """Accumulates (trials done, trials failed, best primary metric) across tasks."""

    def __init__(self, higher_is_better: bool) -> None:
        self.higher_is_better = higher_is_better

    def zero(self, value: tuple) -> tuple[int, int, float | None]:
        return (0, 0, None)

    def addInPlace(self, value1: tuple, value2: tuple) -> tuple[int, int, float | None]:
        done1, failed1, best1 = value1
        done2, failed2, best2 = value2
        if best1 is None:
            best = best2
        elif best2 is None:
            best = best1
        else:
            best = max(best1, best2) if self.higher_is_better else min(best1, best2)
        return (done1 + done2, failed1 + failed2, best)


def run_spark_task(spec: TrialSpec, progress: Any = None) -> dict[str, Any]:
    """Executor entry point: load the shipped fold (cached per process), run the trial, count it."""
    try:
        fold, load_s = load_shipped_fold(spec)
    except Exception as error:
        row = failed_row(spec, error)
    else:
        shipped = FoldData(fold.train, fold.x_test, fold.y_test, load_s=load_s)
        row = run_trial(spec, shipped)
    if progress is not None:
        failed = int(row["status"] != "ok")
        progress.add((1, failed, primary_score(row, spec.primary_metric)))
    return row
