"""select_test_predictions: the best combination's out-of-fold predictions and learning curves,
taken from what its trials returned (`tuning_predictions`), with nothing fit again."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from kedro_datasets.pandas import ParquetDataset
from sklearn.metrics import log_loss

from spark_lgbm_tuning.datasets.atomic_parquet import AtomicParquetDataset
from spark_lgbm_tuning.pipelines.reporting.nodes import (
    rank_combinations,
    refit_best_model,
    select_best_params,
)
from spark_lgbm_tuning.pipelines.reporting.predictions import (
    CURVE_COLUMNS,
    select_test_predictions,
)
from spark_lgbm_tuning.pipelines.reporting.results import ReportingError

from .conftest import COLUMNS, kept_predictions


def test_classification_predictions_are_the_winners_trials_own(outputs, model_input):
    """c_b won: ok on folds 0 and 1, failed on fold 2 (no predictions); the other kept
    combinations' predictions are left out."""
    predictions, curves = outputs["test_predictions"], outputs["learning_curves"]
    assert set(outputs["tuning_predictions"]["combo_id"]) == {"c_a", "c_b", "c_c"}
    assert predictions.columns.tolist() == ["fold_id", "row", "actual", "predicted"]
    assert predictions.groupby("fold_id")["row"].agg(["min", "max", "size"]).values.tolist() == [
        [120, 179, 60],
        [240, 299, 60],
    ]
    np.testing.assert_array_equal(
        predictions["actual"], model_input["target"].iloc[predictions["row"]]
    )
    assert predictions["predicted"].between(0, 1).all()  # P(class 1)

    assert curves.columns.tolist() == CURVE_COLUMNS
    assert set(curves["metric"]) == {"binary_logloss"}  # the objective's default metric
    # Each trial boosted to its best iteration plus 20 rounds of patience (or the cap, 200).
    per_fold = curves.groupby("fold_id").agg(
        rounds=("round", "max"), best=("best_iteration", "first")
    )
    for rounds, best in per_fold.values.tolist():
        assert rounds == min(best + 20, 200)
    # The predictions are the trial's at its best iteration: their log loss is the curve's there.
    for fold_id, best in per_fold["best"].items():
        part = predictions[predictions["fold_id"] == fold_id]
        at_best = curves[(curves["fold_id"] == fold_id) & (curves["round"] == best)]["value"]
        assert log_loss(part["actual"], part["predicted"]) == pytest.approx(
            float(at_best.iloc[0]), rel=1e-6
        )


def test_regression_predictions_are_out_of_fold(
    regression_results, regression_tuning, regression_data, regression_folds, params
):
    board, _ = rank_combinations(regression_results, regression_tuning, params)
    best = select_best_params(board, regression_results, regression_tuning, params)
    assert best["selection"]["combo_id"] == "r_15"
    kept, kept_curves = kept_predictions(
        regression_results, regression_data, regression_folds, regression_tuning
    )
    predictions, curves = select_test_predictions(best, kept, kept_curves, regression_tuning)
    assert predictions.columns.tolist() == ["fold_id", "row", "actual", "predicted", "residual"]
    # Every row is tested once, by the fold whose fold_id it carries.
    assert sorted(predictions["row"]) == list(range(300))
    assert (
        predictions["fold_id"] == regression_data["fold_id"].iloc[predictions["row"]].values
    ).all()
    np.testing.assert_allclose(
        predictions["residual"], predictions["actual"] - predictions["predicted"]
    )
    # A real model of a near-linear target: far below the target's own spread (~3.2).
    assert float(np.sqrt((predictions["residual"] ** 2).mean())) < 1.0
    # The curves are the trials' test l2 per round; each fold's predictions are its trial's at
    # the best iteration, so their mean squared residual is the curve's value there.
    assert set(curves["metric"]) == {"l2"} and curves["round"].max() <= 40
    for fold_id, curve in curves.groupby("fold_id"):
        at_best = curve.loc[curve["round"] == curve["best_iteration"], "value"]
        residual = predictions.loc[predictions["fold_id"] == fold_id, "residual"]
        assert float((residual**2).mean()) == pytest.approx(float(at_best.iloc[0]), rel=1e-6)
    # Out of fold: the fold-0 model never saw its test rows, unlike the refit (in-sample).
    refit, _ = refit_best_model(best, regression_data, regression_folds, COLUMNS, params)
    fold0 = predictions[predictions["fold_id"] == 0]
    in_sample = lgb.Booster(model_str=refit).predict(
        regression_data.iloc[fold0["row"]][[f"feature_{i}" for i in range(3)]]
    )
    assert not np.allclose(in_sample, fold0["predicted"])


def test_error_paths(outputs, tuning_params):
    best = outputs["best_params"]
    kept, curves = outputs["tuning_predictions"], outputs["tuning_learning_curves"]
    with pytest.raises(ReportingError, match="no predictions of the best combination 'c_x'"):
        select_test_predictions({"selection": {"combo_id": "c_x"}}, kept, curves, tuning_params)
    with pytest.raises(ReportingError, match="best_params lacks selection.combo_id"):
        select_test_predictions({"tuning": {}}, kept, curves, tuning_params)
    with pytest.raises(ReportingError, match="tuning_predictions is empty"):
        select_test_predictions(best, kept.iloc[0:0], curves, tuning_params)
    with pytest.raises(ReportingError, match=r"tuning_predictions lacks the column\(s\)"):
        select_test_predictions(best, kept.drop(columns="actual"), curves, tuning_params)


def test_the_frames_round_trip_through_their_catalog_datasets(outputs, tmp_path):
    for name in ("tuning_predictions", "tuning_learning_curves"):
        kept = AtomicParquetDataset(filepath=str(tmp_path / f"{name}.parquet"))
        kept.save(outputs[name])
        pd.testing.assert_frame_equal(kept.load(), outputs[name])
    for name in ("test_predictions", "learning_curves"):
        dataset = ParquetDataset(filepath=str(tmp_path / f"{name}.parquet"))
        dataset.save(outputs[name])
        pd.testing.assert_frame_equal(dataset.load(), outputs[name])
