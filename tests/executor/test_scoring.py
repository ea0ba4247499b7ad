"""Scoring a trial: its metrics against scikit-learn's own scorers, the primary score."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from spark_lgbm_tuning.executor import scoring


@pytest.mark.parametrize(
    "labels",
    [
        np.random.default_rng(3).integers(0, 2, 500),
        np.zeros(50, dtype=int),  # a single-class test part: no AUC, the rest defined
        np.ones(50, dtype=int),
    ],
    ids=["both classes", "only 0", "only 1"],
)
def test_classification_metrics_equal_sklearn_scorers(labels):
    """Accuracy/precision/recall/F1 read from the report equal sklearn's own scorers."""
    probability = np.random.default_rng(4).random(len(labels))
    predicted = (probability >= 0.5).astype(int)

    metrics = scoring.classification_metrics(labels.astype(float), probability)

    assert metrics["accuracy"] == accuracy_score(labels, predicted)
    assert metrics["precision"] == precision_score(labels, predicted, zero_division=0)
    assert metrics["recall"] == recall_score(labels, predicted, zero_division=0)
    assert metrics["f1"] == f1_score(labels, predicted, zero_division=0)
    assert (metrics["auc_roc"] is None) == (len(np.unique(labels)) == 1)
    assert set(json.loads(metrics["classification_report"])) >= {"0", "1", "accuracy"}


def test_primary_score_is_none_for_failed_or_undefined():
    assert scoring.primary_score({"status": "ok", "auc_roc": 0.7}, "auc_roc") == 0.7
    assert scoring.primary_score({"status": "failed", "auc_roc": 0.7}, "auc_roc") is None
    assert scoring.primary_score({"status": "ok", "auc_roc": None}, "auc_roc") is None


def _boost_with(pruner: scoring.RungPruner, metric: str) -> lgb.Booster:
    x, y = make_classification(400, 5, n_informative=3, random_state=0)
    train = lgb.Dataset(x[:300], y[:300])
    valid = lgb.Dataset(x[300:], y[300:], reference=train)
    params = {"objective": "binary", "metric": metric, "num_leaves": 7, "verbosity": -1}
    return lgb.train(params, train, 40, valid_sets=[valid], callbacks=[pruner])


@pytest.mark.parametrize("metric", ["auc", "binary_logloss"])
def test_the_rung_pruner_judges_in_the_metrics_own_direction(metric):
    noted = scoring.RungPruner([5, 20])
    assert _boost_with(noted, metric).current_iteration() == 40
    assert noted.metric == metric and noted.pruned_at is None and set(noted.scores) == {5, 20}
    score = noted.scores[20]
    # AUC is higher-is-better, logloss lower-is-better: "worse" is on the other side.
    worse, better = (
        (score + 1e-9, score - 1e-9) if metric == "auc" else (score - 1e-9, score + 1e-9)
    )

    stopped = scoring.RungPruner([5, 20], [(20, worse)])
    assert _boost_with(stopped, metric).current_iteration() == 20
    assert stopped.pruned_at == 20 and stopped.scores == noted.scores

    kept = scoring.RungPruner([5, 20], [(20, better)])
    assert _boost_with(kept, metric).current_iteration() == 40
    assert kept.pruned_at is None


def _three_classes(n=300, seed=5):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3)) + 2.0 * np.eye(3)[labels]
    probability = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, probability


def test_multiclass_metrics_equal_sklearn_scorers():
    labels, probability = _three_classes()

    metrics = scoring.multiclass_metrics(labels.astype(float), probability)

    predicted = probability.argmax(axis=1)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    assert metrics["f1_macro"] == pytest.approx(f1_score(labels, predicted, average="macro"))
    assert metrics["auc_ovr_macro"] == pytest.approx(
        roc_auc_score(labels, probability, multi_class="ovr", average="macro")
    )
    assert metrics["multi_logloss"] == pytest.approx(log_loss(labels, probability))
    assert 0.5 < metrics["auc_ovr_macro"] <= 1
    assert set(json.loads(metrics["classification_report"])) >= {"0", "1", "2", "macro avg"}


def test_multiclass_auc_leaves_out_a_class_the_test_part_lacks():
    labels, probability = _three_classes()
    kept = labels != 2

    metrics = scoring.multiclass_metrics(labels[kept].astype(float), probability[kept])

    per_class = [roc_auc_score(labels[kept] == k, probability[kept, k]) for k in (0, 1)]
    assert metrics["auc_ovr_macro"] == pytest.approx(np.mean(per_class))
    # The absent class still counts in the log loss (its probabilities are part of each row).
    assert metrics["multi_logloss"] == pytest.approx(
        log_loss(labels[kept], probability[kept], labels=[0, 1, 2])
    )
    only_one = scoring.multiclass_metrics(np.zeros(10), probability[:10])
    assert only_one["auc_ovr_macro"] is None


def test_task_metrics_pick_the_task():
    labels, probability = _three_classes(60)

    assert set(scoring.task_metrics("multiclass", labels, probability)) >= {"f1_macro"}
    assert "auc_roc" in scoring.task_metrics("classification", labels % 2, probability[:, 0])
    assert "rmse" in scoring.task_metrics("regression", labels, probability[:, 0])


def test_class_probabilities_reshape_a_flat_prediction_class_after_class():
    _, probability = _three_classes(7)

    flat = probability.ravel(order="F")

    assert np.array_equal(scoring.class_probabilities(flat, 3), probability)
    assert scoring.class_probabilities(probability, 3) is not None
    with pytest.raises(ValueError):
        scoring.class_probabilities(flat[:-1], 3)
