"""select_best_params and refit_best_model: paste-able YAML, a loadable LightGBM text model."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import yaml
from kedro_datasets.text import TextDataset
from kedro_datasets.yaml import YAMLDataset

from spark_lgbm_tuning.pipelines.reporting.nodes import (
    ReportingError,
    rank_combinations,
    refit_best_model,
    refit_rows,
    select_best_params,
)

from .conftest import FIXED_PARAMS, N_FEATURES, tuning_with


@pytest.fixture
def leaderboard(results, tuning_params, params) -> pd.DataFrame:
    return rank_combinations(results, tuning_params, params)[0]


@pytest.fixture
def best(leaderboard, results, tuning_params, params) -> dict:
    return select_best_params(leaderboard, results, tuning_params, params)


def test_best_params_merge_fixed_and_winning_grid_values(best):
    # c_b wins (mean auc 0.86); its folds' best iterations 40 and 51 -> median 45.5 -> 46.
    assert best["tuning"] == {
        "fixed": {**FIXED_PARAMS, "num_leaves": 31, "learning_rate": 0.1},
        "num_boost_round": 46,
    }
    selection = best["selection"]
    assert selection["combo_id"] == "c_b"
    assert (selection["primary_metric"], selection["direction"]) == ("auc_roc", "higher is better")
    assert selection["mean"] == pytest.approx(0.86)
    assert (selection["n_ok_folds"], selection["n_failed_folds"]) == (2, 1)
    assert selection["grid_values"] == {"num_leaves": 31, "learning_rate": 0.1}
    assert "median of best_iteration over 2 ok folds (40, 51)" in selection["num_boost_round_rule"]


def test_best_params_round_trip_through_the_yaml_dataset(best, tmp_path):
    dataset = YAMLDataset(filepath=str(tmp_path / "best_params.yml"))
    dataset.save(best)
    text = (tmp_path / "best_params.yml").read_text()
    # Plain YAML (no numpy tags), and the tuning block is what parameters_tuning.yml takes.
    assert "!!python" not in text
    assert yaml.safe_load(text)["tuning"] == best["tuning"]


def test_rounds_aggregate_and_round_aliases(leaderboard, results, tuning_params, params):
    recorded = json.dumps(
        {**FIXED_PARAMS, "num_leaves": 31, "learning_rate": 0.1, "n_estimators": 9, "nthread": 2}
    )
    results = results.assign(
        params_json=results["params_json"].where(results["combo_id"] != "c_b", recorded)
    )
    best = select_best_params(
        leaderboard, results, tuning_params, params.model_copy(update={"rounds_aggregate": "max"})
    )
    assert best["tuning"]["num_boost_round"] == 51
    # A recorded round count would fight the learned num_boost_round, and the search sets the
    # threads itself (parameters_tuning.yml refuses both in `fixed`): they are dropped.
    assert "n_estimators" not in best["tuning"]["fixed"]
    assert "nthread" not in best["tuning"]["fixed"]


def test_the_tunings_fixed_params_underlie_the_winners(leaderboard, results, tuning_params, params):
    tuning = tuning_with(tuning_params, fixed={"objective": "binary", "min_data_in_leaf": 5})
    best = select_best_params(leaderboard, results, tuning, params)
    assert best["tuning"]["fixed"]["min_data_in_leaf"] == 5
    assert best["tuning"]["fixed"]["num_leaves"] == 31
    # A plain dict (a direct call) is validated into the same model and gives the same result.
    assert select_best_params(leaderboard, results, tuning.model_dump(), params) == best


def test_without_early_stopping_the_tuning_rounds_are_kept(
    leaderboard, results, tuning_params, params
):
    best = select_best_params(leaderboard, results.assign(best_iteration=0), tuning_params, params)
    assert best["tuning"]["num_boost_round"] == tuning_params.num_boost_round
    assert "no early stopping" in best["selection"]["num_boost_round_rule"]


def test_best_params_error_paths(leaderboard, results, tuning_params, params):
    broken = results.assign(params_json="{not json")
    with pytest.raises(ReportingError, match="params_json of trial 'c_b-f0' is not valid JSON"):
        select_best_params(leaderboard, broken, tuning_params, params)
    # A leaderboard ranked by auc_roc cannot name the best combination by logloss.
    by_logloss = tuning_with(tuning_params, primary_metric="logloss")
    with pytest.raises(ReportingError, match="ranked by 'auc_roc', but tuning.primary_metric is"):
        select_best_params(leaderboard, results, by_logloss, params)
    with pytest.raises(ReportingError, match="no ok fold with a auc_roc value"):
        select_best_params(leaderboard.assign(auc_roc_mean=None), results, tuning_params, params)
    with pytest.raises(ReportingError, match="leaderboard is empty"):
        select_best_params(leaderboard.iloc[0:0], results, tuning_params, params)
    other = results[results["combo_id"] != "c_b"]
    with pytest.raises(ReportingError, match="do not belong together"):
        select_best_params(leaderboard, other, tuning_params, params)


def test_refit_uses_every_row_the_folds_saw(timeseries_folds):
    # Folds cover rows 0..359; rows 360..399 were never part of the cross-validation.
    np.testing.assert_array_equal(refit_rows(timeseries_folds, 400), np.arange(360))
    with pytest.raises(ReportingError, match="refers to rows 0..359 but timeseries_data has 300"):
        refit_rows(timeseries_folds, 300)


def test_refit_model_loads_from_the_catalog_file_and_predicts(
    best, timeseries_data, timeseries_folds, params, tmp_path
):
    model_text, importance = refit_best_model(best, timeseries_data, timeseries_folds, params)

    path = tmp_path / "refit_model.txt"
    TextDataset(filepath=str(path)).save(model_text)
    booster = lgb.Booster(model_file=str(path))
    assert booster.num_feature() == N_FEATURES
    assert booster.num_trees() == best["tuning"]["num_boost_round"]  # binary: one tree a round
    assert "[num_threads: 1]" in model_text  # reporting.refit_num_threads
    features = timeseries_data[[f"feature_{i}" for i in range(N_FEATURES)]]
    predictions = booster.predict(features.iloc[360:])
    assert predictions.shape == (40,)
    assert ((predictions > 0) & (predictions < 1)).all()
    # It learned something real on the rows it never saw: the target follows feature_0.
    accuracy = ((predictions > 0.5) == timeseries_data["target"].iloc[360:]).mean()
    assert accuracy > 0.75
    with pytest.raises(lgb.basic.LightGBMError, match="number of features"):
        booster.predict(features.iloc[360:, :-1].to_numpy())

    assert importance.columns.tolist() == [
        "rank",
        "feature",
        "importance_gain",
        "importance_split",
        "gain_share",
    ]
    assert sorted(importance["feature"]) == sorted(features.columns)
    assert importance.loc[0, "feature"] == "feature_0"
    assert importance["importance_gain"].is_monotonic_decreasing
    assert importance["gain_share"].sum() == pytest.approx(1.0)


def test_refit_error_paths(best, timeseries_data, timeseries_folds, params):
    with pytest.raises(ReportingError, match="no target column 'target'"):
        refit_best_model(best, timeseries_data.drop(columns="target"), timeseries_folds, params)
    with pytest.raises(ReportingError, match="lacks tuning.fixed or tuning.num_boost_round"):
        refit_best_model({"selection": {}}, timeseries_data, timeseries_folds, params)
    with pytest.raises(ReportingError, match="timeseries_folds is empty"):
        refit_best_model(best, timeseries_data, timeseries_folds.iloc[0:0], params)
    renamed = timeseries_data.rename(columns=lambda c: c.replace("feature_", "x_"))
    with pytest.raises(ReportingError, match="no column starting with 'feature_'"):
        refit_best_model(best, renamed, timeseries_folds, params)
