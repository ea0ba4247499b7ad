"""The search space: trials table and ids (pinned), grid values checked, specs read back."""

from __future__ import annotations

import json

import pytest

from spark_lgbm_tuning.pipelines.tuning import search_space
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows
from spark_lgbm_tuning.pipelines.tuning.nodes import expand_search_space
from spark_lgbm_tuning.vocabulary.columns import ColumnParams

from .data import kfold_folds, model_input, regression_data, time_folds, tuning_params

COLUMNS = ColumnParams()

# Computed with the code of commit 3d19108 (before the tuning package was split): the same inputs
# must keep giving the same ids, or every stored trial would run again.
PINNED_CLASSIFICATION = {
    # trial_id: (combo_id, fold_id)
    "7afdc53069a53f69": ("bab4c4dcf99eef9f", 0),
    "81f461f72e16bfe4": ("df99c5891e074b36", 0),
    "f1a430ed2b66230d": ("6bed98267ac417fd", 0),
    "b906ecc20a780259": ("7630486f3da2b453", 0),
    "5c6ca75c1fa6dbe5": ("bab4c4dcf99eef9f", 1),
    "93a8ed61172f88d9": ("df99c5891e074b36", 1),
    "b1f16f4b0bea08c5": ("6bed98267ac417fd", 1),
    "38c036a27a99bc31": ("7630486f3da2b453", 1),
    "e4ea3723c6481a7c": ("bab4c4dcf99eef9f", 2),
    "062e860cbbf00818": ("df99c5891e074b36", 2),
    "6ad925f2c80c1290": ("6bed98267ac417fd", 2),
    "804a3b38ce3187ae": ("7630486f3da2b453", 2),
}
PINNED_REGRESSION = {
    "19640cf293feda6a": ("079cbf45cebcbbf6", 0),
    "049679430b7604cd": ("079cbf45cebcbbf6", 1),
    "85ed31223362c752": ("079cbf45cebcbbf6", 2),
}


def _ids(table) -> dict[str, tuple[str, int]]:
    return {
        record["trial_id"]: (record["combo_id"], int(record["fold_id"]))
        for record in table.to_dict("records")
    }


def test_trial_and_combo_ids_are_pinned():
    data = model_input()
    params = tuning_params(
        grid={"num_leaves": [7, 15], "learning_rate": [0.1], "num_boost_round": [10, 30]}
    )
    table = expand_search_space(data, time_folds(data, 3), params, COLUMNS)
    assert list(table["trial_id"]) == list(PINNED_CLASSIFICATION)
    assert _ids(table) == PINNED_CLASSIFICATION
    assert set(table["dataset_key"]) == {"25dabefb"}


def test_regression_ids_are_pinned():
    data = regression_data()
    params = tuning_params(
        task="regression",
        primary_metric="rmse",
        fixed={"objective": "regression", "max_bin": 63},
        grid={"num_leaves": [7]},
        early_stopping_rounds=None,
    )
    table = expand_search_space(data, kfold_folds(data), params, COLUMNS)
    assert _ids(table) == PINNED_REGRESSION
    assert set(table["dataset_key"]) == {"b25947b0"}


def test_expand_counts_columns_and_stable_ids(data, folds):
    params = tuning_params(grid={"num_leaves": [7, 15], "learning_rate": [0.05, 0.1]})
    trials = expand_search_space(data, folds, params, COLUMNS)
    again = expand_search_space(data.copy(), folds.copy(), params, COLUMNS)

    assert len(trials) == 4 * 3
    assert trials["trial_id"].is_unique
    assert trials.groupby("combo_id")["fold_id"].nunique().eq(3).all()
    assert trials["combo_id"].nunique() == 4
    assert trials["trial_id"].tolist() == again["trial_id"].tolist()
    assert {"param_num_leaves", "param_learning_rate", "params_json"} <= set(trials.columns)
    assert str(trials["param_num_leaves"].dtype) == "Int64"
    assert json.loads(trials["params_json"].iloc[0])["objective"] == "binary"
    assert trials.groupby("fold_id")["n_train"].first().tolist() == [150, 300, 450]


def test_trial_ids_change_only_for_folds_whose_data_changed(data, folds):
    params = tuning_params()
    before = expand_search_space(data, folds, params, COLUMNS).set_index(["combo_id", "fold_id"])
    changed = data.copy()
    changed.loc[len(data) - 1, "feature_0"] += 1.0  # a row of the last fold's test part only
    after = expand_search_space(changed, folds, params, COLUMNS).set_index(["combo_id", "fold_id"])

    same = before["trial_id"] == after["trial_id"]
    assert same.groupby(level="fold_id").all().tolist() == [True, True, False]
    assert not same.groupby(level="fold_id").any().iloc[-1]


def test_expand_uses_only_the_chosen_folds(data, folds):
    trials = expand_search_space(data, folds, tuning_params(folds=[2]), COLUMNS)

    assert trials["fold_id"].unique().tolist() == [2]


@pytest.mark.parametrize(
    ("params", "folds_change", "message"),
    [
        ({"folds": [7]}, None, r"tuning.folds names unknown fold ids \[7\]"),
        ({"max_trials": 5}, None, r"tuning.max_trials=5 but the grid has 2 combinations x 3"),
        ({}, "drop_split", r"The fold table lacks columns \['split'\]"),
        ({}, "bad_row", "row positions must lie in 0..599"),
    ],
)
def test_expand_rejects_bad_inputs(data, folds, params, folds_change, message):
    if folds_change == "drop_split":
        folds = folds.drop(columns="split")
    elif folds_change == "bad_row":
        folds = folds.assign(row=folds["row"] + 10)
    with pytest.raises(ValueError, match=message):
        expand_search_space(data, folds, tuning_params(**params), COLUMNS)


def test_a_grid_value_lightgbm_refuses_everywhere_is_named_before_any_trial(data, folds):
    params = tuning_params(grid={"num_leaves": [7, -1], "learning_rate": [0.1]})
    with pytest.raises(ValueError, match=r"tuning.grid.num_leaves value -1 is refused by LightGBM"):
        expand_search_space(data, folds, params, COLUMNS)


@pytest.mark.parametrize(
    ("grid", "blamed"),
    [
        # The refused axis comes after another one: every combination fails, LightGBM names it.
        ({"num_leaves": [7, 15], "learning_rate": [-0.1]}, "learning_rate value -0.1"),
        # LightGBM names the canonical parameter (feature_fraction) of the grid's alias.
        ({"num_leaves": [7], "colsample_bytree": [-1.0]}, "colsample_bytree value -1.0"),
    ],
)
def test_a_refused_single_value_is_blamed_on_its_own_axis(data, folds, grid, blamed):
    with pytest.raises(ValueError, match=rf"^tuning.grid.{blamed} is refused by LightGBM"):
        expand_search_space(data, folds, tuning_params(grid=grid), COLUMNS)


def test_specs_read_back_from_the_table_are_the_expanded_specs(data, folds):
    params = tuning_params(
        grid={"num_leaves": [7, 15], "learning_rate": [0.1], "num_boost_round": [10, 30]}
    )
    rows = fold_rows(folds, None, len(data))
    expanded = search_space.expand(FoldArrays(data, rows, COLUMNS), params)
    table = search_space.trials_table(expanded, params)

    assert search_space.specs_from_table(table, params) == expanded
    assert [spec.num_boost_round for spec in expanded[:4]] == [10, 30, 10, 30]
    assert all("num_boost_round" not in spec.params for spec in expanded)
    assert json.loads(table["params_json"].iloc[0]) == expanded[0].params


def test_the_table_keeps_each_trials_boosting_settings(data, folds):
    """A reader without the run's --params (a notebook) gets the rounds the trials ran with."""
    expanded_with = tuning_params(num_boost_round=60, early_stopping_rounds=None)
    table = expand_search_space(data, folds, expanded_with, COLUMNS)
    read_with = tuning_params(num_boost_round=500, early_stopping_rounds=50)

    specs = search_space.specs_from_table(table, read_with)

    assert {spec.num_boost_round for spec in specs} == {60}
    assert {spec.early_stopping_rounds for spec in specs} == {None}
    assert table["early_stopping_rounds"].isna().all()


def test_a_table_without_the_boosting_settings_is_refused(data, folds):
    table = expand_search_space(data, folds, tuning_params(), COLUMNS)
    with pytest.raises(ValueError, match=r"no \['early_stopping_rounds'\] column"):
        search_space.specs_from_table(table.drop(columns="early_stopping_rounds"), tuning_params())


def test_specs_of_a_table_from_another_grid_are_refused(data, folds):
    table = expand_search_space(data, folds, tuning_params(), COLUMNS)
    with pytest.raises(ValueError, match=r"grid asks for \['param_max_depth'\]"):
        search_space.specs_from_table(table, tuning_params(grid={"max_depth": [3]}))
