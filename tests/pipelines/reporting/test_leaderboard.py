"""rank_combinations: aggregates, both metric directions, ties, bad input; params validation."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.validation.exceptions import ParameterValidationError
from kedro.validation.parameter_validator import ParameterValidator
from pydantic import ValidationError

from spark_lgbm_tuning import lightgbm_params
from spark_lgbm_tuning.pipelines.reporting import create_pipeline
from spark_lgbm_tuning.pipelines.reporting.nodes import (
    ReportingError,
    ReportingParams,
    rank_combinations,
)
from spark_lgbm_tuning.pipelines.tuning import create_pipeline as create_tuning_pipeline
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams

from .conftest import make_trial, tuning_with


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


def test_a_plain_dict_for_params_tuning_is_validated(results, tuning_params, params):
    board, _ = rank_combinations(results, tuning_params.model_dump(), params)
    assert board["combo_id"].tolist() == ["c_b", "c_a", "c_c"]
    with pytest.raises(ValidationError, match=r"primary_metric\n.*Input should be 'accuracy'"):
        rank_combinations(results, {**tuning_params.model_dump(), "primary_metric": "auc"}, params)


def test_base_config_validates(project_root: Path):
    raw = yaml.safe_load((project_root / "conf/base/parameters_reporting.yml").read_text())
    assert ReportingParams.model_validate(raw["reporting"]) == ReportingParams()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"top_n": 0}, r"top_n\n.*must be between 1 and 500, got 0"),
        ({"tie_decimals": 16}, r"tie_decimals\n.*must be between 1 and 15, got 16"),
        # The metric is tuning.primary_metric alone: a leftover reporting copy fails loudly.
        ({"primary_metric": "auc_roc"}, r"primary_metric\n.*Extra inputs are not permitted"),
        ({"top_nn": 3}, r"top_nn\n.*Extra inputs are not permitted"),
    ],
)
def test_params_errors_name_the_parameter_and_its_range(override, message):
    with pytest.raises(ValidationError, match=message):
        ReportingParams.model_validate(override)


@pytest.fixture
def raw_params(project_root: Path) -> dict:
    """params:tuning and params:reporting as conf/base holds them."""
    conf = project_root / "conf/base"
    return {
        name: yaml.safe_load((conf / f"parameters_{name}.yml").read_text())[name]
        for name in ("tuning", "reporting")
    }


def test_kedro_validates_params_reporting_from_the_node_signatures(raw_params):
    validator = ParameterValidator({"reporting": create_pipeline()})
    validated = validator.validate_raw_params({**raw_params, "reporting": {"top_n": 3}})
    assert validated["reporting"] == ReportingParams(top_n=3)
    with pytest.raises(
        ParameterValidationError, match=r"(?s)'reporting'.*top_n.*between 1 and 500"
    ):
        validator.validate_raw_params({**raw_params, "reporting": {"top_n": 0}})


@pytest.mark.parametrize("scope", [("reporting",), ("tuning", "reporting")])
def test_params_tuning_is_the_same_model_whether_or_not_tuning_runs(scope, raw_params, caplog):
    """`kedro run --pipeline reporting` and the default run give the reporting nodes one type."""
    pipelines = {"tuning": create_tuning_pipeline(), "reporting": create_pipeline()}
    validator = ParameterValidator({name: pipelines[name] for name in scope})
    with caplog.at_level(logging.WARNING):
        validated = validator.validate_raw_params(raw_params)
    assert type(validated["tuning"]) is TuningParams
    assert not [r for r in caplog.records if "Conflicting type" in r.getMessage()]
    with pytest.raises(ParameterValidationError, match=r"(?s)'tuning'.*'rmse' does not apply"):
        validator.validate_raw_params(
            {**raw_params, "tuning": {**raw_params["tuning"], "primary_metric": "rmse"}}
        )


def test_overriding_tuning_primary_metric_reranks_the_report(results, raw_params):
    """`kedro run --params tuning.primary_metric=logloss`: the tuning and the ranking both move."""
    validator = ParameterValidator({"reporting": create_pipeline()})
    overridden = {**raw_params, "tuning": {**raw_params["tuning"], "primary_metric": "logloss"}}
    validated = validator.validate_raw_params(overridden)
    board, _ = rank_combinations(results, validated["tuning"], validated["reporting"])
    assert list(board.columns[2:4]) == ["logloss_mean", "logloss_std"]
    assert board["logloss_mean"].is_monotonic_increasing
