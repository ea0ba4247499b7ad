"""One hyperparameter trial on a Spark executor: load the shipped fold, fit LightGBM, score it.

Spark executors run `run_spark_group`, one task per group of trials: one boosting run's trials
(trials that differ only in `num_boost_round`), or a pack of short boosting runs of one fold run
one after another (the driver plans both, pipelines/tuning/tasks.py). This module imports
no Kedro and nothing of the driver's planning, so executors only need LightGBM, scikit-learn,
numpy, psutil and pyspark. The same `run_trial(spec, fold)` runs on the driver without Spark, so
a notebook can debug a single trial:

    fold = fold_from_arrays(x_train, y_train, x_test, y_test, params)
    row = run_trial(TrialSpec(..., params=params), fold)
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import lightgbm as lgb
import numpy as np
import psutil
from pyspark import SparkFiles, TaskContext

from spark_lgbm_tuning.executor.fold_data import FoldData, bin_train_part, load_fold
from spark_lgbm_tuning.executor.scoring import (
    RungPruner,
    TrialTimeoutError,
    TrialTimer,
    ValidationRecorder,
    class_probabilities,
    peak_rss_mb,
    reset_peak_rss,
    task_metrics,
)
from spark_lgbm_tuning.executor.trial_spec import (
    LEARNING_CURVE,
    RESULT_FIELDS,
    TEST_PREDICTIONS,
    TrialSpec,
    boosting_runs,
)
from spark_lgbm_tuning.vocabulary.lightgbm_params import METRIC_ALIASES, dataset_params
from spark_lgbm_tuning.vocabulary.statuses import FAILED, OK, PRUNED, TIMED_OUT
from spark_lgbm_tuning.vocabulary.trial_columns import COMBO_ID, STATUS


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
    if "fold_cache" not in spec.disabled_levers:
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


def error_text(error: BaseException) -> str:
    """ "ExceptionType: message" on one line (LightGBM's messages end in " .\n")."""
    message = " ".join(str(error).split()).removesuffix(" .")
    return f"{type(error).__name__}: {message}"


def new_row(spec: TrialSpec) -> dict[str, Any]:
    """A result row (ID_FIELDS + RESULT_FIELDS) with nothing measured yet."""
    row: dict[str, Any] = {
        "trial_id": spec.trial_id,
        COMBO_ID: spec.combo_id,
        "fold_id": int(spec.fold_id),
        **dict.fromkeys(RESULT_FIELDS),
        TEST_PREDICTIONS: None,
        LEARNING_CURVE: None,
    }
    row["executor_id"] = executor_id()
    row["host"] = socket.gethostname()
    row["started_at"] = datetime.now(UTC)
    return row


def failed_row(spec: TrialSpec, error: BaseException) -> dict[str, Any]:
    """The row of a trial that could not run at all (e.g. its fold could not be binned)."""
    row = new_row(spec)
    row[STATUS] = FAILED
    row["error"] = error_text(error)
    row["ended_at"] = row["started_at"]
    return row


def _run_params(lead: TrialSpec) -> dict[str, Any]:
    """The parameters of a group's boosting run (the lead's, adjusted for levers and rounds)."""
    reads_metric = bool(lead.early_stopping_rounds) or bool(lead.rungs)
    return _boosting_params(lead.params, reads_metric, lead.disabled_levers)


def _boosting_params(
    params: dict[str, Any], reads_metric: bool, disabled_levers: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """`params` adjusted for the levers switched off and for a run that reads no metric (fixed
    rounds without rungs)."""
    params = dict(params)
    if "thread_match" in disabled_levers:
        params.pop("num_threads", None)
    if not reads_metric:
        # Fixed rounds without rungs read no metric while boosting (the test part is scored at
        # the caps): LightGBM need not evaluate one on the validation set every round. Training
        # is the same.
        for alias in METRIC_ALIASES:
            params.pop(alias, None)
        params["metric"] = "None"
    return params


@dataclass
class _Run:
    """What one boosting run measured, for the rows of the trials that shared it."""

    booster: lgb.Booster
    recorder: ValidationRecorder
    # The test part's metric per round ({metric: values}), as lgb.record_evaluation keeps it.
    curves: dict[str, list[float]]
    pruner: RungPruner | None
    prepare_s: float
    fit_s: float
    cpu_utilisation: float | None
    peak_rss_mb: float


def _boost(specs: list[TrialSpec], fold: FoldData) -> _Run:
    """One boosting run to the largest cap of `specs`, timed, with its validation predictions."""
    lead = max(specs, key=lambda spec: spec.num_boost_round)
    params = _run_params(lead)
    early_stopping = bool(lead.early_stopping_rounds)
    keep_predictions = "validation_scores" not in lead.disabled_levers
    started = time.perf_counter()
    # Fixed rounds scored by predicting again need no validation set at all (unless rungs read
    # its metric).
    needs_valid = early_stopping or keep_predictions or bool(lead.rungs)
    valid_sets = [fold.validation_set(params)] if needs_valid else None
    prepare_s = time.perf_counter() - started
    # The rungs are caps too: a run pruned at one is scored as if capped there.
    recorder = ValidationRecorder(
        [spec.num_boost_round for spec in specs] + list(lead.rungs),
        early_stopping,
        keep_predictions,
    )
    history: dict[str, dict[str, list[float]]] = {}
    callbacks: list[Any] = [recorder, lgb.record_evaluation(history)]
    pruner = RungPruner(lead.rungs, lead.rung_thresholds) if lead.rungs else None
    if pruner is not None:
        callbacks.append(pruner)
    if early_stopping:
        callbacks.append(lgb.early_stopping(lead.early_stopping_rounds, verbose=False))
    if lead.timeout_s is not None:
        callbacks.append(TrialTimer(lead.timeout_s))
    process = psutil.Process()
    peak_was_reset = reset_peak_rss()
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
    return _Run(
        booster=booster,
        recorder=recorder,
        curves=history.get("test", {}),
        pruner=pruner,
        prepare_s=prepare_s,
        fit_s=fit_s,
        cpu_utilisation=cpu_s / (fit_s * threads) if fit_s > 0 else None,
        peak_rss_mb=peak_rss_mb(process, peak_was_reset, rss_before),
    )


def _fit_and_score(
    specs: list[TrialSpec], fold: FoldData, rows: list[dict[str, Any]], load_s: float
) -> None:
    """One boosting run to the largest cap of `specs`; each spec's row scored at its own cap.

    The largest cap's row carries the run's load and fit seconds; the other rows, whose work
    it shared, carry 0.0, so summed fit seconds stay the compute actually spent. A run pruned at
    a rung prunes the trials whose cap lies beyond it, each scored at the stop; a trial whose cap
    the run reached first is complete.
    """
    run = _boost(specs, fold)
    lead = max(specs, key=lambda spec: spec.num_boost_round)
    stop = None if run.pruner is None else run.pruner.pruned_at
    for spec, row in zip(specs, rows, strict=True):
        pruned = stop is not None and spec.num_boost_round > stop
        last_round = stop if pruned else spec.num_boost_round
        best_iteration, prediction = run.recorder.result_at(last_round, run.booster)
        if run.pruner is not None:
            row["rung_metric"] = run.pruner.metric
            row["rung_scores"] = run.pruner.scores_json(last_round)
            row["pruned_at_round"] = stop if pruned else None
        started = time.perf_counter()
        if prediction is None:
            prediction = run.booster.predict(fold.x_test, num_iteration=best_iteration)
        row["predict_s"] = time.perf_counter() - started
        is_lead = spec is lead
        row["n_train"] = fold.n_train
        row["n_test"] = fold.n_test
        row["data_load_s"] = load_s + run.prepare_s if is_lead else 0.0
        row["fit_s"] = run.fit_s if is_lead else 0.0
        row["cpu_utilisation"] = run.cpu_utilisation
        row["best_iteration"] = int(best_iteration)
        row["peak_rss_mb"] = run.peak_rss_mb
        if spec.task == "multiclass":
            prediction = class_probabilities(prediction, int(spec.params["num_class"]))
        row.update(task_metrics(spec.task, fold.y_test, prediction))
        # Flat, as every task's: a multiclass row's K probabilities one after another.
        row[TEST_PREDICTIONS] = prediction.ravel()
        row[LEARNING_CURVE] = {
            metric: values[: spec.num_boost_round] for metric, values in run.curves.items()
        }


def run_group(
    specs: list[TrialSpec], fold: FoldData, load_s: float | None = None
) -> list[dict[str, Any]]:
    """Train, evaluate and time trials that share one boosting run; never raises for their errors.

    `specs` differ at most in num_boost_round (the driver groups them so). A failing run (bad parameter
    value, degenerate fold) gives every trial status "failed" and "ExceptionType: message", so
    Spark does not retry a failure that would repeat.
    """
    rows = [new_row(spec) for spec in specs]
    try:
        _fit_and_score(specs, fold, rows, fold.load_s if load_s is None else load_s)
    except TrialTimeoutError as error:
        # The run was cut short for every trial of the group; its seconds count once.
        for row in rows:
            row.update(status=TIMED_OUT, error=error_text(error), fit_s=0.0)
        rows[-1]["fit_s"] = error.elapsed_s
    except Exception as error:
        for row in rows:
            row[STATUS] = FAILED
            row["error"] = error_text(error)
    else:
        for row in rows:
            row[STATUS] = OK if row["pruned_at_round"] is None else PRUNED
    ended_at = datetime.now(UTC)
    for row in rows:
        row["ended_at"] = ended_at
    return rows


def fit_model(
    params: dict[str, Any],
    num_boost_round: int,
    x: np.ndarray,
    y: np.ndarray,
    feature_names: list[str],
) -> lgb.Booster:
    """A boosting run on all of (x, y) with no held-out part (the final refit of the best
    combination), binned (bin_train_part) and parameterised as every trial's run is."""
    train = bin_train_part(x, y, params)
    train.set_feature_name(feature_names)
    return _refit(params, num_boost_round, train)


def fit_shipped_model(job: tuple[dict[str, Any], int, str]) -> tuple[str, str]:
    """`fit_model` as a Spark task: job = (params, rounds, train_file), the rows the driver
    binned (bin_train_part, with their feature names) and shipped as `train_file` (a SparkFiles
    name). Returns the model as LightGBM text and the executor that fit it."""
    params, num_boost_round, train_file = job
    train = lgb.Dataset(SparkFiles.get(train_file), params=dataset_params(params))
    return _refit(params, num_boost_round, train).model_to_string(), executor_id()


def _refit(params: dict[str, Any], num_boost_round: int, train: lgb.Dataset) -> lgb.Booster:
    return lgb.train(_boosting_params(params, False), train, num_boost_round=num_boost_round)


def run_trial(spec: TrialSpec, fold: FoldData) -> dict[str, Any]:
    """Train, evaluate and time one trial; never raises for a trial's own error."""
    return run_group([spec], fold)[0]


def run_spark_group(specs: list[TrialSpec]) -> list[dict[str, Any]]:
    """Executor entry point: the task's boosting runs one after another (one, or a pack of short
    ones of one fold), each on its shipped fold (cached per process), each with its own timeout.

    Returns one row per trial of the task (planned by the driver), for an RDD's flatMap.
    """
    rows: list[dict[str, Any]] = []
    for run in boosting_runs(specs):
        try:
            fold, load_s = load_shipped_fold(run[0])
        except Exception as error:
            rows += [failed_row(spec, error) for spec in run]
        else:
            rows += run_group(run, fold, load_s=load_s)
    return rows
