"""Scoring a trial: its metrics against scikit-learn's own scorers, the primary score."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

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
