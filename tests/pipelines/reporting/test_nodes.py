"""The reporting nodes: rank_combinations (aggregates, directions, ties, bad input),
select_best_params (paste-able YAML) and refit_best_model (a loadable LightGBM text model)."""

from __future__ import annotations

import json
import logging
import math

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import yaml
from kedro_datasets.text import TextDataset
from kedro_datasets.yaml import YAMLDataset

from spark_lgbm_tuning.pipelines.reporting.nodes import (
    rank_combinations,
    refit_best_model,
    select_best_params,
)
from spark_lgbm_tuning.pipelines.reporting.results import ReportingError
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.vocabulary import lightgbm_params

from .conftest import COLUMNS, FIXED_PARAMS, N_FEATURES, RENAMED, make_trial, renamed, tuning_with


def test_means_stds_and_counts_per_combination(results, tuning_params, params):
    board, _ = rank_combinations(results, tuning_params, params)
    by_combo = board.set_index("combo_id")

    assert by_combo.loc["c_a", "auc_roc_mean"] == pytest.approx(0.80)
    assert by_combo.loc["c_a", "auc_roc_std"] == pytest.approx(0.10)
    assert by_combo.loc["c_b", "auc_roc_mean"] == pytest.approx(0.86)
    assert by_combo.loc["c_b", "auc_roc_std"] == pytest.approx(math.sqrt(0.0002))
    assert by_combo.loc["c_c", "logloss_mean"] == pytest.approx(0.60)
    assert by_combo.loc["c_c", "logloss_std"] == pytest.approx(0.02)
    assert by_combo.loc["c_b", "accuracy_mean"] == pytest.approx(0.76)
    # The failed fold counts, but adds nothing to the metrics or the fit time.
    assert by_combo.loc["c_b", ["n_folds", "n_ok", "n_failed"]].tolist() == [3, 2, 1]
    assert by_combo.loc["c_b", "fit_s_mean"] == pytest.approx(1.5)
    assert by_combo.loc["c_b", "best_iteration_median"] == pytest.approx(45.5)
    assert by_combo.loc["c_a", ["param_num_leaves", "param_learning_rate"]].tolist() == [15, 0.1]
    # Metrics without a single value (regression ones here) get no columns.
    assert "rmse_mean" not in board
    assert list(board.columns[:4]) == ["rank", "combo_id", "auc_roc_mean", "auc_roc_std"]


def test_ranks_higher_is_better_metric_descending(results, tuning_params, params):
    board, _ = rank_combinations(results, tuning_params, params)
    assert board["combo_id"].tolist() == ["c_b", "c_a", "c_c"]
    assert board["rank"].tolist() == [1, 2, 3]


def test_ranks_lower_is_better_metric_ascending(results, tuning_params, params, monkeypatch):
    by_logloss = tuning_with(tuning_params, primary_metric="logloss")
    board, _ = rank_combinations(results, by_logloss, params)
    assert board["combo_id"].tolist() == ["c_b", "c_a", "c_c"]
    assert board["logloss_mean"].tolist() == pytest.approx([0.34, 0.40, 0.60])
    assert list(board.columns[2:4]) == ["logloss_mean", "logloss_std"]

    # The direction is the tuning trials' own table: flip it there and the same means rank the
    # other way round.
    monkeypatch.setitem(lightgbm_params.HIGHER_IS_BETTER, "logloss", True)
    flipped, _ = rank_combinations(results, by_logloss, params)
    assert flipped["combo_id"].tolist() == ["c_c", "c_a", "c_b"]


def _tied_results() -> pd.DataFrame:
    """Four combinations with the same mean auc (0.8): the tie-breakers decide."""
    grid = {"num_leaves": 31}
    rows = [
        # z_one_failed: mean 0.8, std 0, but one failed fold -> last of the tied.
        make_trial("z_one_failed", 0, grid, auc_roc=0.8, fit_s=1.0, best_iteration=5),
        make_trial("z_one_failed", 1, grid, auc_roc=0.8, fit_s=1.0, best_iteration=5),
        make_trial("z_one_failed", 2, grid, status="timed_out"),
        # y_wide: mean 0.8, std 0.1, no failure.
        make_trial("y_wide", 0, grid, auc_roc=0.7, fit_s=1.0, best_iteration=5),
        make_trial("y_wide", 1, grid, auc_roc=0.8, fit_s=1.0, best_iteration=5),
        make_trial("y_wide", 2, grid, auc_roc=0.9, fit_s=1.0, best_iteration=5),
    ]
    # b_same and a_same: identical folds (mean 0.8, std 0.05): combo_id decides, a before b.
    for combo_id in ("b_same", "a_same"):
        for fold_id, auc in enumerate((0.75, 0.80, 0.85)):
            rows.append(
                make_trial(combo_id, fold_id, grid, auc_roc=auc, fit_s=1.0, best_iteration=5)
            )
    return pd.DataFrame(rows)


def test_ties_break_on_failures_then_std_then_combo_id(tuning_params, params):
    tied = _tied_results()
    board, _ = rank_combinations(tied, tuning_params, params)
    assert board["combo_id"].tolist() == ["a_same", "b_same", "y_wide", "z_one_failed"]

    # The order does not depend on the row order of the input.
    shuffled, _ = rank_combinations(tied.sample(frac=1.0, random_state=3), tuning_params, params)
    pd.testing.assert_frame_equal(shuffled, board)


def test_aggregates_that_differ_only_in_the_last_bits_tie(tuning_params, params):
    # Same folds in another order: the stds differ in the last bits (0.1 vs 0.09999999999999998).
    grid = {"num_leaves": 31}
    rows = [
        make_trial("b", 0, grid, auc_roc=0.1, fit_s=1.0, best_iteration=5),
        make_trial("b", 1, grid, auc_roc=0.2, fit_s=1.0, best_iteration=5),
        make_trial("b", 2, grid, auc_roc=0.3, fit_s=1.0, best_iteration=5),
        make_trial("a", 0, grid, auc_roc=0.3, fit_s=1.0, best_iteration=5),
        make_trial("a", 1, grid, auc_roc=0.2, fit_s=1.0, best_iteration=5),
        make_trial("a", 2, grid, auc_roc=0.1, fit_s=1.0, best_iteration=5),
    ]
    board, _ = rank_combinations(pd.DataFrame(rows), tuning_params, params)
    assert board["combo_id"].tolist() == ["a", "b"]


def test_regression_results_rank_by_rmse_lower_is_better(params):
    grid = {"num_leaves": 15}
    rows = [
        make_trial(
            combo,
            fold,
            grid,
            task="regression",
            rmse=rmse,
            mae=rmse / 2,
            r2=0.5,
            fit_s=1.0,
            best_iteration=9,
        )
        for combo, values in {"r_big": (3.0, 5.0), "r_small": (1.0, 2.0)}.items()
        for fold, rmse in enumerate(values)
    ]
    regression = TuningParams(
        task="regression",
        primary_metric="rmse",
        fixed={"objective": "regression"},
        grid={"num_leaves": [15]},
    )
    board, _ = rank_combinations(pd.DataFrame(rows), regression, params)
    assert board["combo_id"].tolist() == ["r_small", "r_big"]
    assert board["rmse_mean"].tolist() == pytest.approx([1.5, 4.0])
    assert "auc_roc_mean" not in board


def test_csv_copy_is_rounded_for_people(results, tuning_params, params):
    board, csv = rank_combinations(results, tuning_params, params)
    assert csv["combo_id"].tolist() == board["combo_id"].tolist()
    assert csv.loc[0, "auc_roc_std"] == round(math.sqrt(0.0002), 6)


def test_empty_results_name_the_cause(tuning_params, params):
    with pytest.raises(ReportingError, match="tuning_results is empty"):
        rank_combinations(pd.DataFrame(), tuning_params, params)


def test_all_failed_results_name_the_cause(tuning_params, params):
    rows = [make_trial("c", fold, {"num_leaves": 7}, status="failed") for fold in range(3)]
    with pytest.raises(ReportingError, match=r"All 3 trials .* failed.*LightGBMError on fold 0"):
        rank_combinations(pd.DataFrame(rows), tuning_params, params)


def test_missing_columns_and_unknown_status_are_refused(results, tuning_params, params):
    with pytest.raises(ReportingError, match=r"lacks the column\(s\) \['params_json'\]"):
        rank_combinations(results.drop(columns="params_json"), tuning_params, params)
    with pytest.raises(ReportingError, match="unknown status value.*'error'"):
        rank_combinations(results.assign(status="error"), tuning_params, params)


def test_primary_metric_without_values_names_the_tuning_setting(tuning_params, params):
    # Regression results, but params:tuning says classification by auc_roc: results of another run.
    rows = [
        make_trial("r", fold, {"num_leaves": 7}, task="regression", rmse=1.0, r2=0.3, fit_s=1.0)
        for fold in range(2)
    ]
    with pytest.raises(
        ReportingError,
        match=r"'auc_roc' \(tuning.primary_metric, tuning.task 'classification'\) has no value"
        r".*their task: regression; metrics with values: rmse, r2\).*rerun the tuning",
    ):
        rank_combinations(pd.DataFrame(rows), tuning_params, params)


# ------------------------------------------------------------------------- best params, refit
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


def test_refit_uses_every_row_the_folds_saw(best, model_input, model_folds, params, caplog):
    # Folds cover rows 0..359; rows 360..399 were never part of the cross-validation.
    with caplog.at_level(logging.INFO):
        refit_best_model(best, model_input, model_folds, COLUMNS, params)
    assert "Refit the best combination on 360 rows x 5 features for 46 rounds" in caplog.text
    # Rows the data does not have: the fold table's own check (tuning/folds.py) names them.
    with pytest.raises(ValueError, match=r"must lie in 0..299 \(the data has 300 rows\)"):
        refit_best_model(best, model_input.iloc[:300], model_folds, COLUMNS, params)


def test_refit_model_loads_from_the_catalog_file_and_predicts(
    best, model_input, model_folds, params, tmp_path
):
    model_text, importance = refit_best_model(best, model_input, model_folds, COLUMNS, params)

    path = tmp_path / "refit_model.txt"
    TextDataset(filepath=str(path)).save(model_text)
    booster = lgb.Booster(model_file=str(path))
    assert booster.num_feature() == N_FEATURES
    assert booster.num_trees() == best["tuning"]["num_boost_round"]  # binary: one tree a round
    assert "[num_threads: 1]" in model_text  # reporting.refit_num_threads
    features = model_input[[f"feature_{i}" for i in range(N_FEATURES)]]
    predictions = booster.predict(features.iloc[360:])
    assert predictions.shape == (40,)
    assert ((predictions > 0) & (predictions < 1)).all()
    # It learned something real on the rows it never saw: the target follows feature_0.
    accuracy = ((predictions > 0.5) == model_input["target"].iloc[360:]).mean()
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


def test_refit_error_paths(best, model_input, model_folds, params):
    data, folds = model_input, model_folds
    with pytest.raises(ValueError, match="no target column 'target'"):
        refit_best_model(best, data.drop(columns="target"), folds, COLUMNS, params)
    with pytest.raises(ReportingError, match="lacks tuning.fixed or tuning.num_boost_round"):
        refit_best_model({"selection": {}}, data, folds, COLUMNS, params)
    with pytest.raises(ReportingError, match="model_folds is empty"):
        refit_best_model(best, data, folds.iloc[0:0], COLUMNS, params)
    features_renamed = data.rename(columns=lambda c: c.replace("feature_", "x_"))
    with pytest.raises(ValueError, match=r"has no feature_\* columns"):
        refit_best_model(best, features_renamed, folds, COLUMNS, params)


def test_refit_trains_on_the_columns_setting(best, model_input, model_folds, params):
    """params:columns renamed: the refit trains on the renamed features and target, the same
    model as with the default names (the tuning trials trained on the same setting)."""
    default, _ = refit_best_model(best, model_input, model_folds, COLUMNS, params)
    model, importance = refit_best_model(best, renamed(model_input), model_folds, RENAMED, params)
    assert sorted(importance["feature"]) == [f"x_{i}" for i in range(N_FEATURES)]
    features = model_input[[f"feature_{i}" for i in range(N_FEATURES)]].to_numpy()
    np.testing.assert_array_equal(
        lgb.Booster(model_str=model).predict(features),
        lgb.Booster(model_str=default).predict(features),
    )
    # An extra column outside the prefix is not a feature, whatever its name.
    extra = renamed(model_input).assign(feature_0=1.0)
    _, importance = refit_best_model(best, extra, model_folds, RENAMED, params)
    assert "feature_0" not in set(importance["feature"])


# ------------------------------------------------------------- adaptive search (pruned, partial)
def _adaptive_results(results: pd.DataFrame) -> pd.DataFrame:
    """`results` plus a pruned combination (best first fold) and one that ran one fold only."""
    grid = {"num_leaves": 63, "learning_rate": 0.1}
    rows = [
        make_trial("c_pruned", 0, grid, auc_roc=0.99, fit_s=1.0, best_iteration=5),
        make_trial("c_pruned", 1, grid, status="pruned", auc_roc=0.98, fit_s=1.0),
        make_trial("c_partial", 0, {**grid, "num_leaves": 7}, auc_roc=0.97, fit_s=1.0),
    ]
    return pd.concat([results, pd.DataFrame(rows)], ignore_index=True)


def test_a_pruned_or_partly_run_combination_is_never_ranked(results, tuning_params, params):
    board, _ = rank_combinations(_adaptive_results(results), tuning_params, params)
    assert board["combo_id"].tolist() == ["c_b", "c_a", "c_c"]  # as without the two


def test_only_pruned_combinations_leave_nothing_to_rank(results, tuning_params, params):
    pruned = _adaptive_results(results)
    pruned = pruned[pruned["combo_id"].isin(["c_pruned", "c_partial"])]
    with pytest.raises(ReportingError, match=r"None of the 2 combinations .* every fold"):
        rank_combinations(pruned, tuning_params, params)
