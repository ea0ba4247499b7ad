"""expand_search_space: trials table, ids pinned against the code before the restructure."""

from __future__ import annotations

from spark_lgbm_tuning.pipelines.tuning.nodes import expand_search_space

from .data import kfold_folds, regression_data, time_folds, timeseries_data, tuning_params

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
    data = timeseries_data()
    params = tuning_params(
        grid={"num_leaves": [7, 15], "learning_rate": [0.1], "num_boost_round": [10, 30]}
    )
    table = expand_search_space(data, time_folds(data, 3), params)
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
    table = expand_search_space(data, kfold_folds(data), params)
    assert _ids(table) == PINNED_REGRESSION
    assert set(table["dataset_key"]) == {"b25947b0"}
