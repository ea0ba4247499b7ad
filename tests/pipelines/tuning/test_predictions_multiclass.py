"""PredictionBuffer with a multiclass search: each test row's class probabilities, kept flat as
the trial returns them, written as the most probable class and a column per class."""

from __future__ import annotations

import numpy as np
import pytest

from spark_lgbm_tuning.executor.trial_spec import LEARNING_CURVE, TEST_PREDICTIONS
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows
from spark_lgbm_tuning.pipelines.tuning.predictions import PREDICTION_COLUMNS, PredictionBuffer
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from tests.pipelines.tuning.data import tuning_params

MULTICLASS = tuning_params(
    task="multiclass", primary_metric=None, fixed={"objective": "multiclass"}
)


@pytest.fixture(scope="module")
def arrays(data, folds):
    classes = (np.arange(len(data)) % 3).astype(np.float64)
    return FoldArrays(
        data.assign(target=classes), fold_rows(folds, None, len(data)), ColumnParams()
    )


def _probabilities(n_rows: int, seed: int) -> np.ndarray:
    raw = np.random.default_rng(seed).random((n_rows, 3))
    return raw / raw.sum(axis=1, keepdims=True)


def test_each_class_probability_becomes_a_column_and_predicted_the_most_probable(arrays):
    buffer = PredictionBuffer(MULTICLASS, arrays)
    expected = {}
    for fold_id, (_, test) in arrays.rows.items():
        expected[fold_id] = _probabilities(len(test), fold_id)
        buffer.add(
            [
                {
                    "trial_id": f"a-{fold_id}",
                    "combo_id": "a",
                    "fold_id": fold_id,
                    "status": "ok",
                    "auc_ovr_macro": 0.9,
                    "best_iteration": 4,
                    TEST_PREDICTIONS: expected[fold_id].ravel(),
                    LEARNING_CURVE: {"multi_logloss": [1.0, 0.9]},
                }
            ]
        )

    predictions, curves = buffer.frames(["a"])

    assert predictions.columns.tolist() == [
        *PREDICTION_COLUMNS,
        "probability_0",
        "probability_1",
        "probability_2",
    ]
    for fold_id, probabilities in expected.items():
        part = predictions[predictions["fold_id"] == fold_id]
        np.testing.assert_array_equal(part.iloc[:, -3:].to_numpy(), probabilities)
        np.testing.assert_array_equal(part["predicted"], probabilities.argmax(axis=1))
        np.testing.assert_array_equal(part["actual"], arrays.y[arrays.rows[fold_id][1]])
    assert set(curves["metric"]) == {"multi_logloss"}


def test_a_multiclass_buffer_keeps_the_best_by_the_macro_auc(arrays):
    buffer = PredictionBuffer(MULTICLASS, arrays, keep=1)
    n_test = len(arrays.rows[0][1])
    rows = [
        {
            "trial_id": f"{combo}-0",
            "combo_id": combo,
            "fold_id": 0,
            "status": "ok",
            "auc_ovr_macro": auc,
            "best_iteration": 1,
            TEST_PREDICTIONS: _probabilities(n_test, 1).ravel(),
        }
        for combo, auc in (("a", 0.7), ("b", 0.8))
    ]

    buffer.add(rows)

    assert set(buffer.kept) == {"b"}
