"""One hyperparameter trial: load a fold, fit LightGBM (early stopping or fixed rounds), score it.

This is the code Spark executors run, one task per group of trials that share a boosting run
(trials that differ only in `num_boost_round`; most groups hold one trial). It imports no Kedro and nothing from the
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
from collections.abc import Iterable, Mapping
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
    classification_report,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

from spark_lgbm_tuning.lightgbm_params import (
    CLASSIFICATION_THRESHOLD,
    METRIC_ALIASES,
    METRICS,
    dataset_params,
)

# Optimisations the benchmark switches off one at a time to measure what each saves
# (`python -m spark_lgbm_tuning.benchmark --lever NAME`): a comma-separated list of names in this
# environment variable, read by the driver and by every executor. Empty in normal runs.
DISABLE_LEVERS_ENV = "SPARK_LGBM_TUNING_DISABLE_LEVERS"
LEVERS = (
    # Score from the validation predictions LightGBM keeps while boosting, not a second predict.
    "validation_scores",
    # A reused Python worker keeps each loaded fold; off: every task reloads its fold's files.
    "fold_cache",
    # LightGBM threads = spark.task.cpus; off: LightGBM's default (every core of the host).
    "thread_match",
    # Trials that differ only in num_boost_round share one boosting run; off: one run each.
    "shared_rounds",
    # Tasks start longest first (train rows x rounds), so the last task is a short one.
    "longest_first",
)


def disabled_levers() -> frozenset[str]:
    """The optimisations switched off in this process (see DISABLE_LEVERS_ENV)."""
    names = {name.strip() for name in os.environ.get(DISABLE_LEVERS_ENV, "").split(",")}
    names.discard("")
    unknown = sorted(names - set(LEVERS))
    if unknown:
        raise ValueError(f"{DISABLE_LEVERS_ENV} names unknown levers {unknown}; known: {LEVERS}")
    return frozenset(names)


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


@dataclass
class TrialSpec:
    """Everything one trial needs besides the fold data; picklable, so Spark ships it to a task."""

    trial_id: str
    combo_id: str
    fold_id: int
    task: str
    params: dict[str, Any]
    grid_names: tuple[str, ...]
    # Boosting rounds (the cap, with early stopping); never also in `params`, where LightGBM would
    # read it as num_iterations.
    num_boost_round: int
    # Rounds without improvement of the test part's metric before stopping; None or 0: fixed
    # rounds (the test part is then only scored, at num_boost_round).
    early_stopping_rounds: int | None
    primary_metric: str
    # Names (SparkFiles basenames) of the shipped fold files; None when run on local arrays.
    train_file: str | None = None
    # The test part binned with the train part's bins (a LightGBM binary).
    valid_file: str | None = None
    test_x_file: str | None = None
    test_y_file: str | None = None
    run_token: str | None = None
    # Train rows of the fold: with num_boost_round, the work estimate that orders the tasks.
    n_train: int | None = None
    # Wall-time limit of the boosting run in seconds (TrialTimer); None: no limit.
    timeout_s: float | None = None


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


class _ProcessState:
    """What one Python worker keeps between tasks.

    A reused worker (spark.python.worker.reuse) runs many trials: it loads each shipped fold once.
    Folds are keyed by file names and dropped when a new search (run token) starts.
    """

    def __init__(self) -> None:
        self.run_token: str | None = None
        self.folds: dict[tuple[str, str | None, str, str], FoldData] = {}
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
    key = (spec.train_file, spec.valid_file, spec.test_x_file, spec.test_y_file)
    if key in _STATE.folds:
        return _STATE.folds[key], 0.0
    fold = load_fold(
        SparkFiles.get(spec.train_file),
        SparkFiles.get(spec.test_x_file),
        SparkFiles.get(spec.test_y_file),
        spec.params,
        None if spec.valid_file is None else SparkFiles.get(spec.valid_file),
    )
    if "fold_cache" not in disabled_levers():
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
    """Metrics of P(class 1) against 0/1 labels; the report is sklearn's, as JSON.

    Accuracy, precision, recall and F1 are read from sklearn's classification report (class 1)
    rather than computed again by four more sklearn calls: the same numbers, a few
    milliseconds less per trial.
    """
    labels = np.asarray(y_true).astype(int)
    predicted = (probability >= CLASSIFICATION_THRESHOLD).astype(int)
    # AUC is undefined on a test part with a single class; keep the other metrics.
    auc = roc_auc_score(labels, probability) if len(np.unique(labels)) == 2 else None
    # Both labels named: a single-class test part still has a row for class 1.
    report = classification_report(
        labels, predicted, labels=[0, 1], output_dict=True, zero_division=0
    )
    positive = report["1"]
    return {
        "accuracy": float(report["accuracy"]),
        "precision": float(positive["precision"]),
        "recall": float(positive["recall"]),
        "f1": float(positive["f1-score"]),
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
        row[f"param_{name}"] = (
            spec.num_boost_round if name == "num_boost_round" else spec.params.get(name)
        )
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


class ValidationRecorder:
    """A LightGBM callback that keeps the test part's predictions the trials will be scored on.

    LightGBM updates the validation scores every round anyway, so scoring from them saves a
    second pass of every tree over the test part. With early stopping it copies them whenever a
    metric improves, judged as `lgb.early_stopping` judges it (strictly better, first round
    always), so the copy at `best_iteration` exists; at each round cap in `caps` it also notes
    what a run capped there returns: the first metric's best so far (what `lgb.early_stopping`
    raises at a run's last round). With fixed rounds it copies the predictions at each cap.
    With `keep_predictions=False` it only tracks the iterations. `order` 20: it runs before
    early stopping (30), so the round that stops is seen.
    """

    order = 20

    def __init__(self, caps: Iterable[int], early_stopping: bool, keep_predictions: bool = True):
        self.caps = frozenset(int(cap) for cap in caps)
        self.early_stopping = early_stopping
        self.keep_predictions = keep_predictions
        # Per metric: (best score, its 1-based iteration, the predictions then).
        self.best: list[tuple[float, int, np.ndarray | None]] = []
        # Round cap -> (best iteration of a run capped there, its predictions).
        self.at_cap: dict[int, tuple[int, np.ndarray | None]] = {}
        self.copies = 0

    def _predictions(self, booster: lgb.Booster) -> np.ndarray | None:
        if not self.keep_predictions:
            return None
        self.copies += 1
        # The converted scores (probabilities for binary) LightGBM holds for valid set 1; no
        # public API returns them, and the buffer is reused, hence the copy.
        return booster._Booster__inner_predict(data_idx=1).copy()

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        rounds = env.iteration + 1
        if self.early_stopping:
            snapshot: np.ndarray | None = None
            for index, result in enumerate(env.evaluation_result_list or []):
                if index < len(self.best):
                    best = self.best[index][0]
                    improved = (
                        result.metric_value > best
                        if result.maximize
                        else result.metric_value < best
                    )
                    if not improved:
                        continue
                if snapshot is None:
                    snapshot = self._predictions(env.model)
                entry = (result.metric_value, rounds, snapshot)
                if index < len(self.best):
                    self.best[index] = entry
                else:
                    self.best.append(entry)
            if rounds in self.caps and self.best:
                self.at_cap[rounds] = self.best[0][1:]
        elif rounds in self.caps:
            self.at_cap[rounds] = (rounds, self._predictions(env.model))

    def result_at(self, cap: int, booster: lgb.Booster) -> tuple[int, np.ndarray | None]:
        """(best iteration, predictions) of a run capped at `cap` rounds."""
        if cap in self.at_cap:
            return self.at_cap[cap]
        # Early stopping ended the run before this cap; a run capped here stops at that round.
        for _, iteration, predictions in self.best:
            if iteration == booster.best_iteration:
                return iteration, predictions
        raise RuntimeError(
            f"No predictions recorded for {cap} rounds (best iteration {booster.best_iteration})"
        )


def _fit_and_score(
    specs: list[TrialSpec], fold: FoldData, rows: list[dict[str, Any]], load_s: float
) -> None:
    """One boosting run to the largest cap of `specs`; each spec's row scored at its own cap.

    The largest cap's row carries the run's load and fit seconds; the other rows, whose work
    it shared, carry 0.0, so summed fit seconds stay the compute actually spent.
    """
    levers = disabled_levers()
    lead = max(specs, key=lambda spec: spec.num_boost_round)
    params = dict(lead.params)
    if "thread_match" in levers:
        params.pop("num_threads", None)
    early_stopping = bool(lead.early_stopping_rounds)
    keep_predictions = "validation_scores" not in levers
    if not early_stopping:
        # Fixed rounds read no metric while boosting (the test part is scored at the caps):
        # LightGBM need not evaluate one on the validation set every round. Training is the same.
        for alias in METRIC_ALIASES:
            params.pop(alias, None)
        params["metric"] = "None"
    started = time.perf_counter()
    # Fixed rounds scored by predicting again need no validation set at all.
    valid_sets = [fold.validation_set(params)] if early_stopping or keep_predictions else None
    prepare_s = time.perf_counter() - started

    recorder = ValidationRecorder(
        [spec.num_boost_round for spec in specs], early_stopping, keep_predictions
    )
    callbacks: list[Any] = [recorder]
    if early_stopping:
        callbacks.append(lgb.early_stopping(lead.early_stopping_rounds, verbose=False))
    if lead.timeout_s is not None:
        callbacks.append(TrialTimer(lead.timeout_s))
    process = psutil.Process()
    peak_was_reset = _reset_peak_rss()
    rss_before = process.memory_info().rss
    cpu_before = process.cpu_times()
    started = time.perf_counter()
    booster = lgb.train(
        params,
        fold.train,
        num_boost_round=lead.num_boost_round,
        valid_sets=valid_sets,
        valid_names=["test"] if valid_sets else None,
        callbacks=callbacks,
        # The booster is only predicted from (if at all) and then dropped: skip lgb.train's
        # save-and-reload of the model into a booster without the data.
        keep_training_booster=True,
    )
    fit_s = time.perf_counter() - started
    cpu_after = process.cpu_times()
    threads = int(params.get("num_threads") or os.cpu_count() or 1)
    cpu_s = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)

    for spec, row in zip(specs, rows, strict=True):
        best_iteration, prediction = recorder.result_at(spec.num_boost_round, booster)
        started = time.perf_counter()
        if prediction is None:
            prediction = booster.predict(fold.x_test, num_iteration=best_iteration)
        row["predict_s"] = time.perf_counter() - started
        is_lead = spec is lead
        row["n_train"] = fold.n_train
        row["n_test"] = fold.n_test
        row["data_load_s"] = load_s + prepare_s if is_lead else 0.0
        row["fit_s"] = fit_s if is_lead else 0.0
        row["cpu_utilisation"] = cpu_s / (fit_s * threads) if fit_s > 0 else None
        row["best_iteration"] = int(best_iteration)
        row["peak_rss_mb"] = _peak_rss_mb(process, peak_was_reset, rss_before)
        if spec.task == "classification":
            row.update(classification_metrics(fold.y_test, prediction))
        else:
            row.update(regression_metrics(fold.y_test, prediction))


class TrialTimeoutError(Exception):
    """A trial's boosting run passed its wall-time limit (status "timed_out")."""

    def __init__(self, limit_s: float, elapsed_s: float, rounds: int) -> None:
        super().__init__(
            f"stopped after {elapsed_s:.1f} s and {rounds} boosting rounds, over "
            f"trial_timeout_s={limit_s:g}"
        )
        self.elapsed_s = elapsed_s


class TrialTimer:
    """A LightGBM callback that raises TrialTimeoutError once the run passes `limit_s`.

    Checked after every boosting round, so a single endless round is not stopped here; the
    driver cancels such a task's job (see pipelines/tuning/scheduler.py).
    """

    # After the recorder (20) and early stopping (30): a round that stops the run still counts.
    order = 40

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.started = time.perf_counter()

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        elapsed = time.perf_counter() - self.started
        if elapsed > self.limit_s:
            raise TrialTimeoutError(self.limit_s, elapsed, env.iteration + 1)


def run_group(
    specs: list[TrialSpec], fold: FoldData, load_s: float | None = None
) -> list[dict[str, Any]]:
    """Train, evaluate and time trials that share one boosting run; never raises for their errors.

    `specs` differ at most in num_boost_round (see `plan_tasks`). A failing run (bad parameter
    value, degenerate fold) gives every trial status "failed" and "ExceptionType: message", so
    Spark does not retry a failure that would repeat.
    """
    rows = [new_row(spec) for spec in specs]
    try:
        _fit_and_score(specs, fold, rows, fold.load_s if load_s is None else load_s)
    except TrialTimeoutError as error:
        # The run was cut short for every trial of the group; its seconds count once.
        for row in rows:
            row.update(status="timed_out", error=error_text(error), fit_s=0.0)
        rows[-1]["fit_s"] = error.elapsed_s
    except Exception as error:
        for row in rows:
            row["status"] = "failed"
            row["error"] = error_text(error)
    else:
        for row in rows:
            row["status"] = "ok"
    ended_at = datetime.now(UTC)
    for row in rows:
        row["ended_at"] = ended_at
    return rows


def run_trial(spec: TrialSpec, fold: FoldData) -> dict[str, Any]:
    """Train, evaluate and time one trial; never raises for a trial's own error."""
    return run_group([spec], fold)[0]


def _shared_run_key(spec: TrialSpec) -> str:
    """Trials with equal keys differ only in num_boost_round, so one boosting run serves them."""
    return stable_hash(
        [
            spec.fold_id,
            spec.task,
            spec.params,
            spec.early_stopping_rounds,
            spec.train_file,
            spec.valid_file,
            spec.test_x_file,
            spec.test_y_file,
        ]
    )


def plan_tasks(specs: Iterable[TrialSpec]) -> list[list[TrialSpec]]:
    """Group the trials that can share a boosting run, and order the groups longest first.

    A group's work is its fold's train rows times its largest cap; starting the longest tasks
    first keeps a long one from running alone at the end. Levers `shared_rounds` and
    `longest_first` (DISABLE_LEVERS_ENV) switch either off for the benchmark.
    """
    levers = disabled_levers()
    groups: dict[str, list[TrialSpec]] = {}
    for index, spec in enumerate(specs):
        key = str(index) if "shared_rounds" in levers else _shared_run_key(spec)
        groups.setdefault(key, []).append(spec)
    planned = [sorted(group, key=lambda spec: spec.num_boost_round) for group in groups.values()]
    if "longest_first" not in levers:
        planned.sort(key=lambda group: -(group[0].n_train or 1) * group[-1].num_boost_round)
    return planned


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


def run_spark_group(specs: list[TrialSpec], progress: Any = None) -> list[dict[str, Any]]:
    """Executor entry point: load the shipped fold (cached per process), run the group, count it.

    Returns one row per trial of the group (see `plan_tasks`), for an RDD's flatMap.
    """
    try:
        fold, load_s = load_shipped_fold(specs[0])
    except Exception as error:
        rows = [failed_row(spec, error) for spec in specs]
    else:
        rows = run_group(specs, fold, load_s=load_s)
    if progress is not None:
        for spec, row in zip(specs, rows, strict=True):
            failed = int(row["status"] != "ok")
            progress.add((1, failed, primary_score(row, spec.primary_metric)))
    return rows


def run_spark_task(spec: TrialSpec, progress: Any = None) -> dict[str, Any]:
    """Executor entry point for a single trial (a group of one)."""
    return run_spark_group([spec], progress)[0]
