"""Scoring a trial: its metrics against scikit-learn's own scorers, the primary score."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from spark_lgbm_tuning import scoring


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
