"""predict_test_parts: the best combination's out-of-fold predictions, made with each fold's
trial parameters and best iteration, and the learning curves of those per-fold fits."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from kedro_datasets.pandas import ParquetDataset
from sklearn.metrics import log_loss

from spark_lgbm_tuning.pipelines.reporting.nodes import (
    rank_combinations,
    refit_best_model,
    select_best_params,
)
from spark_lgbm_tuning.pipelines.reporting.predictions import CURVE_COLUMNS, predict_test_parts
from spark_lgbm_tuning.pipelines.reporting.results import ReportingError

from .conftest import COLUMNS


def _predict(best, results, *arguments):
    """predict_test_parts with (data, folds, tuning params, reporting params) as `arguments`."""
    data, folds, tuning, params = arguments
    return predict_test_parts(
        best_params=best,
        tuning_results=results,
        timeseries_data=data,
        timeseries_folds=folds,
        tuning_params=tuning,
        columns=COLUMNS,
        params=params,
    )


def test_classification_folds_are_predicted_at_their_trials_best_iteration(
    outputs, timeseries_data, timeseries_folds
):
    """c_b won: ok on folds 0 and 1 (best iterations 40, 51), failed on fold 2 (skipped)."""
    predictions, curves = outputs["test_predictions"], outputs["learning_curves"]
    assert predictions.columns.tolist() == ["fold_id", "row", "actual", "predicted"]
    assert predictions.groupby("fold_id")["row"].agg(["min", "max", "size"]).values.tolist() == [
        [120, 179, 60],
        [240, 299, 60],
    ]
    np.testing.assert_array_equal(
        predictions["actual"], timeseries_data["target"].iloc[predictions["row"]]
    )
    assert predictions["predicted"].between(0, 1).all()  # P(class 1)

    assert curves.columns.tolist() == CURVE_COLUMNS
    assert set(curves["metric"]) == {"binary_logloss"}  # the objective's default metric
    # Each fit boosts as far as its trial did: best iteration + 20 rounds of patience.
    per_fold = curves.groupby("fold_id").agg(
        rounds=("round", "max"), best=("best_iteration", "first")
    )
    assert per_fold.values.tolist() == [[60, 40], [71, 51]]
    # The predictions are the model's at the best iteration: their log loss is the curve's there.
    for fold_id, best in ((0, 40), (1, 51)):
        part = predictions[predictions["fold_id"] == fold_id]
        at_best = curves[(curves["fold_id"] == fold_id) & (curves["round"] == best)]["value"]
        assert log_loss(part["actual"], part["predicted"]) == pytest.approx(
            float(at_best.iloc[0]), rel=1e-6
        )


def test_each_fold_uses_its_own_trials_parameters(
    outputs, timeseries_data, timeseries_folds, tuning_params, params
):
    """A different learning rate recorded for fold 1 changes fold 1's predictions only."""
    results = outputs["results"].copy()
    fold1 = (results["combo_id"] == "c_b") & (results["fold_id"] == 1)
    recorded = json.loads(results.loc[fold1, "params_json"].iloc[0])
    results.loc[fold1, "params_json"] = json.dumps({**recorded, "learning_rate": 0.5})
    changed, _ = _predict(
        outputs["best_params"], results, timeseries_data, timeseries_folds, tuning_params, params
    )
    before = outputs["test_predictions"]
    np.testing.assert_array_equal(changed["predicted"][:60], before["predicted"][:60])
    assert not np.allclose(changed["predicted"][60:], before["predicted"][60:])


def test_regression_predictions_are_out_of_fold(
    regression_results, regression_tuning, regression_data, regression_folds, params
):
    board, _ = rank_combinations(regression_results, regression_tuning, params)
    best = select_best_params(board, regression_results, regression_tuning, params)
    assert best["selection"]["combo_id"] == "r_15"
    predictions, curves = _predict(
        best, regression_results, regression_data, regression_folds, regression_tuning, params
    )
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
    # No early stopping in this search: each fold boosts to the round cap (40).
    assert curves.groupby("fold_id")["round"].max().tolist() == [40, 40, 40]
    assert set(curves["metric"]) == {"l2"}
    # Out of fold: the fold-0 model never saw its test rows, unlike the refit (in-sample).
    refit, _ = refit_best_model(best, regression_data, regression_folds, COLUMNS, params)
    fold0 = predictions[predictions["fold_id"] == 0]
    in_sample = lgb.Booster(model_str=refit).predict(
        regression_data.iloc[fold0["row"]][[f"feature_{i}" for i in range(3)]]
    )
    assert not np.allclose(in_sample, fold0["predicted"])


def test_error_paths(outputs, timeseries_data, timeseries_folds, tuning_params, params):
    best, results = outputs["best_params"], outputs["results"]
    arguments = (timeseries_data, timeseries_folds, tuning_params, params)
    with pytest.raises(ReportingError, match="no ok trial of the best combination 'c_x'"):
        _predict({"selection": {"combo_id": "c_x"}}, results, *arguments)
    with pytest.raises(ReportingError, match="best_params lacks selection.combo_id"):
        _predict({"tuning": {}}, results, *arguments)
    with pytest.raises(ReportingError, match="timeseries_folds is empty"):
        _predict(best, results, timeseries_data, timeseries_folds.iloc[0:0], tuning_params, params)
    with pytest.raises(ValueError, match="The target has 1 NaN"):
        broken = timeseries_data.assign(
            target=timeseries_data["target"].where(lambda t: t.index != 4)
        )
        _predict(best, results, broken, timeseries_folds, tuning_params, params)
    unknown_fold = results.assign(fold_id=results["fold_id"] + 10)
    with pytest.raises(ReportingError, match="Fold 10 of tuning_results is not in the fold table"):
        _predict(best, unknown_fold, *arguments)


def test_the_frames_round_trip_through_their_catalog_dataset(outputs, tmp_path):
    for name in ("test_predictions", "learning_curves"):
        dataset = ParquetDataset(filepath=str(tmp_path / f"{name}.parquet"))
        dataset.save(outputs[name])
        pd.testing.assert_frame_equal(dataset.load(), outputs[name])
