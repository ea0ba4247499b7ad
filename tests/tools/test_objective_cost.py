"""tools/objective_cost.py: one trial boosted with huber and with binary, CPU seconds each."""

from __future__ import annotations

from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from tests.pipelines.tuning.data import model_input, time_folds
from tools import objective_cost


def test_both_objectives_are_boosted_and_timed():
    data = model_input(n_rows=600, n_features=5)
    folds = time_folds(data)
    arrays = FoldArrays(data, fold_rows(folds, None, len(data)), ColumnParams())

    outcome = objective_cost.boost(arrays, 0, {"num_leaves": 7}, rounds=40, patience=5)

    assert set(outcome) == {"huber", "binary"}
    for measured in outcome.values():
        assert 1 <= measured["best_iteration"] <= 40
        assert measured["cpu_s"] >= 0.0
