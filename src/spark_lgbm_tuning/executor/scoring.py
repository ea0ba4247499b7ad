"""How a boosting run is scored and measured: metrics, LightGBM callbacks, peak memory.

Executor side (imported by `trial.py`): no Kedro, no pyspark. `ValidationRecorder` keeps the test
part's predictions LightGBM computes anyway; `TrialTimer` stops a run past its wall-time limit;
`RungPruner` stops a run at a rung of boosting rounds where it scores worse than its threshold.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import psutil
from sklearn.metrics import (
    classification_report,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

from spark_lgbm_tuning.vocabulary.lightgbm_params import CLASSIFICATION_THRESHOLD
from spark_lgbm_tuning.vocabulary.statuses import OK
from spark_lgbm_tuning.vocabulary.trial_columns import STATUS


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


def multiclass_metrics(y_true: np.ndarray, probability: np.ndarray) -> dict[str, Any]:
    """Metrics of one probability per class (rows x K) against classes 0..K-1.

    `auc_ovr_macro` is the mean of each class's one-vs-rest ROC AUC over the classes the test
    part holds with other rows beside them (a class absent from it has no ROC curve; None when
    none has one); `accuracy` and `f1_macro` judge the most probable class; `multi_logloss` is
    LightGBM's. The report is sklearn's, as JSON.
    """
    labels = np.asarray(y_true).astype(int)
    classes = list(range(probability.shape[1]))
    predicted = probability.argmax(axis=1)
    aucs = [
        roc_auc_score(labels == k, probability[:, k])
        for k in classes
        if 0 < np.count_nonzero(labels == k) < len(labels)
    ]
    report = classification_report(
        labels, predicted, labels=classes, output_dict=True, zero_division=0
    )
    return {
        "accuracy": float(np.mean(predicted == labels)),
        "auc_ovr_macro": float(np.mean(aucs)) if aucs else None,
        "multi_logloss": float(log_loss(labels, probability, labels=classes)),
        "f1_macro": float(report["macro avg"]["f1-score"]),
        "classification_report": json.dumps(report, sort_keys=True),
    }


def class_probabilities(prediction: np.ndarray, n_classes: int) -> np.ndarray:
    """A multiclass prediction as rows x K: `Booster.predict`'s as it is, a flat one (LightGBM's
    validation scores, class after class) reshaped."""
    prediction = np.asarray(prediction, dtype=np.float64)
    if prediction.ndim == 2:
        return prediction
    return prediction.reshape(len(prediction) // n_classes, n_classes, order="F")


def task_metrics(task: str, y_true: np.ndarray, prediction: np.ndarray) -> dict[str, Any]:
    """The task's metrics of a prediction (P(class 1), rows x K probabilities, or values)."""
    if task == "classification":
        return classification_metrics(y_true, prediction)
    if task == "multiclass":
        return multiclass_metrics(y_true, prediction)
    return regression_metrics(y_true, prediction)


def regression_metrics(y_true: np.ndarray, prediction: np.ndarray) -> dict[str, Any]:
    """RMSE, MAE and R² of the predictions."""
    return {
        "rmse": float(root_mean_squared_error(y_true, prediction)),
        "mae": float(mean_absolute_error(y_true, prediction)),
        "r2": float(r2_score(y_true, prediction)),
    }


def primary_score(row: Mapping[str, Any], metric: str) -> float | None:
    """The row's primary metric, or None when it failed or the metric is undefined."""
    value = row.get(metric)
    if row.get(STATUS) != OK or value is None or not math.isfinite(value):
        return None
    return float(value)


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


class RungPruner:
    """A LightGBM callback for round-wise pruning: it notes the validation metric at each rung
    round in `rungs` and stops the run at a rung whose threshold it is worse than.

    The metric is the first one LightGBM evaluates on the test part (the one `metric` names
    first, or the objective's default), judged in LightGBM's own direction: a run continues
    while its value is not below the threshold of a higher-is-better metric (AUC) and not above
    that of a lower-is-better one (logloss, RMSE). `thresholds` maps a rung round to its
    threshold; a rung without one is only noted, so the first trials of a fold, which carry
    none, run to the end and give the driver the scores it computes thresholds from
    (pipelines/tuning/rungs.py). The stop is LightGBM's own early-stopping exception, so
    `lgb.train` returns the booster and the trial is still scored at the stop. `order` 25: after
    the recorder (20), which has then noted the stop round's predictions, before early stopping.
    """

    order = 25

    def __init__(self, rungs: Iterable[int], thresholds: Iterable[tuple[int, float]] = ()):
        self.rungs = frozenset(int(rung) for rung in rungs)
        self.thresholds = {int(rung): float(threshold) for rung, threshold in thresholds}
        # LightGBM's name of the metric noted (e.g. "auc", "binary_logloss"); None: no rung seen.
        self.metric: str | None = None
        # Rung round -> the metric's value at that round.
        self.scores: dict[int, float] = {}
        # The rung round the run stopped at; None while it goes on.
        self.pruned_at: int | None = None

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        rounds = env.iteration + 1
        if rounds not in self.rungs or not env.evaluation_result_list:
            return
        _, metric, value, higher_is_better = env.evaluation_result_list[0][:4]
        self.metric = metric
        self.scores[rounds] = float(value)
        threshold = self.thresholds.get(rounds)
        if threshold is None:
            return
        if value < threshold if higher_is_better else value > threshold:
            self.pruned_at = rounds
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)

    def scores_json(self, last_round: int) -> str | None:
        """The noted rung scores up to `last_round` as JSON {"round": value}; None when none."""
        kept = {
            str(rung): score for rung, score in sorted(self.scores.items()) if rung <= last_round
        }
        return json.dumps(kept) if kept else None


class TrialTimeoutError(Exception):
    """A trial's boosting run passed its wall-time limit (status `statuses.TIMED_OUT`)."""

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


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_mb(process: psutil.Process, peak_was_reset: bool, sampled_rss: int) -> float:
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
