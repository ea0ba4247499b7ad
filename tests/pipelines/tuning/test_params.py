"""`params:tuning` as TuningParams: the shipped files validate, bad values name the parameter."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.search_params import RoundPruningParams
from spark_lgbm_tuning.vocabulary.errors import ExplainedError
from tests.pipelines.tuning.data import tuning_params


@pytest.mark.parametrize(
    ("path", "key", "combinations"),
    [
        ("conf/base/parameters_tuning.yml", ["tuning"], 8),
        ("conf/reference/parameters_tuning.yml", ["tuning"], 54),
        ("conf/base/parameters_tuning_regression.yml", ["regression", "tuning"], 4),
    ],
)
def test_shipped_parameter_files_validate(project_root, path, key, combinations):
    raw = yaml.safe_load((project_root / path).read_text())
    for part in key:
        raw = raw[part]
    params = TuningParams.model_validate(raw)

    assert params.n_combinations == combinations
    assert params.n_combinations * 4 <= params.max_trials


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"grid": {}}, "grid must map at least one LightGBM parameter"),
        ({"grid": {"num_leaves": 15}}, "grid.num_leaves must be a list of values"),
        ({"grid": {"num_leaves": []}}, "grid.num_leaves is an empty list"),
        ({"primary_metric": "auc"}, "primary_metric\n  Input should be 'accuracy'"),
        ({"primary_metric": "rmse"}, "primary_metric 'rmse' does not apply to task"),
        ({"max_trials": 1}, "max_trials=1 but the grid has 2 combinations = 2 trials"),
        ({"max_trials": 0}, "max_trials\n  Input should be greater than or equal to 1"),
        ({"grid_search": {}}, "grid_search\n  Extra inputs are not permitted"),
        ({"fixed": {"objective": "binary", "n_estimators": 9}}, "fixed.n_estimators is set"),
        ({"fixed": {"objective": "regression"}}, "fixed.objective must be one of"),
        ({"fixed": {"objective": "binary", "num_leaves": 3}}, "num_leaves appear in both"),
        ({"folds": [0, 0]}, "distinct fold ids"),
        (
            {"store_keep_fingerprints": 0},
            "store_keep_fingerprints\n  Input should be greater than or equal to 1",
        ),
    ],
)
def test_invalid_parameters_name_the_parameter(overrides, message):
    with pytest.raises(ValidationError) as error:
        tuning_params(**overrides)

    assert message in str(error.value)


def test_too_many_trials_for_the_folds_is_one_explained_line_not_a_traceback():
    # The folds are known only when the node sees the fold table: 2 combinations x 3 folds.
    params = tuning_params(max_trials=5)

    params.check_max_trials(2)
    with pytest.raises(ExplainedError, match="= 6 trials") as error:
        params.check_max_trials(3)
    assert isinstance(error.value, ValueError)


def test_a_range_may_be_spelled_as_a_one_item_list_so_config_envs_can_merge_it():
    params = tuning_params(
        grid={"learning_rate": [{"low": 0.01, "high": 0.3, "log": True}], "num_leaves": [7]},
        search={"strategy": "tpe", "n_combinations": 4},
    )
    assert params.grid["learning_rate"].log and params.grid["num_leaves"] == [7]


TPE = {"strategy": "tpe", "n_combinations": 4}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"grid": {"num_leaves": {"low": 7, "high": 63}}}, "strategy grid cannot enumerate"),
        (
            {"grid": {"num_boost_round": [10, 20]}, "search": TPE},
            "grid.num_boost_round is a grid-only axis",
        ),
        (
            {"search": {"round_pruning": {"rule": "asha", "min_rounds": 30}}},
            "min_rounds=30 leaves no rung below the 30 boosting rounds of the longest trial",
        ),
    ],
)
def test_search_settings_the_whole_space_contradicts_are_refused_in_one_line(overrides, message):
    with pytest.raises(ValidationError, match=message) as caught:
        tuning_params(**overrides)
    assert caught.value.error_count() == 1


def test_the_budget_bounds_an_adaptive_search_like_the_grid_bounds_a_grid():
    space = {
        "grid": {"num_leaves": {"low": 7, "high": 63, "int": True}},
        "search": {"strategy": "random", "n_combinations": 300},
        "max_trials": 1000,
    }
    assert tuning_params(**space, folds=[0, 1, 2]).n_planned == 300
    with pytest.raises(ValidationError, match="the budget has 300 combinations x 4 folds"):
        tuning_params(**space, folds=[0, 1, 2, 3])


def test_round_pruning_works_with_every_strategy_and_the_fold_wise_rule():
    grid = tuning_params(
        grid={"num_leaves": [7], "num_boost_round": [20, 300]},
        search={"round_pruning": "asha"},
    )
    assert grid.search.round_pruning == RoundPruningParams(rule="asha")
    assert grid.max_rounds == 300
    both = tuning_params(
        num_boost_round=3000,
        search={**TPE, "pruning": "wilcoxon", "round_pruning": {"rule": "asha", "eta": 4}},
    )
    assert both.search.pruning == "wilcoxon" and both.search.round_pruning.eta == 4
    assert not tuning_params().search.round_pruning.active


MULTICLASS = {
    "task": "multiclass",
    "primary_metric": None,
    "fixed": {"objective": "multiclass", "metric": "multi_logloss", "seed": 1},
}


def test_multiclass_ranks_by_macro_one_vs_rest_auc_unless_told_otherwise():
    params = tuning_params(**MULTICLASS)

    assert params.primary_metric == "auc_ovr_macro" and params.higher_is_better
    chosen = tuning_params(**{**MULTICLASS, "primary_metric": "multi_logloss"})
    assert chosen.primary_metric == "multi_logloss" and not chosen.higher_is_better
    assert tuning_params(**{**MULTICLASS, "primary_metric": "accuracy"}).higher_is_better
    assert tuning_params(primary_metric=None).primary_metric == "auc_roc"
    assert tuning_params(**{**MULTICLASS, "fixed": {"objective": "softmax"}}).task == "multiclass"


def test_num_class_comes_from_the_data_for_multiclass_only():
    params = tuning_params(**MULTICLASS)

    assert params.with_num_class(4).fixed["num_class"] == 4
    assert params.with_num_class(4).lightgbm_params({"num_leaves": 7})["num_class"] == 4
    assert "num_class" not in params.fixed
    assert tuning_params().with_num_class(4) == tuning_params()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"primary_metric": "auc_roc"}, "primary_metric 'auc_roc' does not apply to task"),
        ({"fixed": {"objective": "binary"}}, "fixed.objective must be one of ['multiclass'"),
        (
            {"fixed": {"objective": "multiclass", "metric": "multi_error"}},
            "fixed.metric 'multi_error' does not apply to task multiclass, which stops early on",
        ),
        (
            {"fixed": {"objective": "multiclass", "num_class": 3}},
            "fixed.num_class is set from the data's classes",
        ),
        (
            {"grid": {"num_classes": [3], "num_leaves": [7]}},
            "grid.num_classes is set from the data's classes",
        ),
    ],
)
def test_multiclass_settings_are_refused_in_one_line(overrides, message):
    with pytest.raises(ValidationError) as caught:
        tuning_params(**{**MULTICLASS, **overrides})

    assert message in str(caught.value)
    assert caught.value.error_count() == 1


def test_classification_and_regression_refuse_the_multiclass_settings():
    with pytest.raises(ValidationError, match="fixed.objective must be one of"):
        tuning_params(fixed={"objective": "multiclass"})
    with pytest.raises(ValidationError, match="'multiclass' is a classification objective"):
        tuning_params(task="regression", primary_metric="rmse", fixed={"objective": "multiclass"})
    with pytest.raises(ValidationError, match="'f1_macro' does not apply to task 'regression'"):
        tuning_params(task="regression", primary_metric="f1_macro", fixed={})
