"""The one table of LightGBM facts: aliases from LightGBM itself, reserved and Dataset params."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from pydantic import ValidationError

from spark_lgbm_tuning.vocabulary import lightgbm_params
from tests.pipelines.tuning.data import tuning_params


def _params(**overrides):
    return {"objective": "binary", "num_leaves": 7, "verbosity": -1, **overrides}


@pytest.mark.parametrize("name", ["nrounds", "num_iterations", "n_estimators", "num_round"])
def test_every_round_alias_is_refused_in_fixed_with_the_fix(name):
    """The hole: a second alias table lacked `nrounds`, so it overrode num_boost_round."""
    with pytest.raises(
        ValidationError, match=f"fixed.{name} is set by the search .use num_boost_round."
    ):
        tuning_params(fixed={"objective": "binary", name: 50})


@pytest.mark.parametrize(
    ("section", "name", "message"),
    [
        ("grid", {"nrounds": [10, 20]}, "grid.nrounds is set by the search (use num_boost_round)"),
        (
            "fixed",
            {"num_threads": 2},
            "fixed.num_threads is set by the search (it is spark.task.cpus)",
        ),
        ("fixed", {"n_jobs": 2}, "fixed.n_jobs is set by the search (it is spark.task.cpus)"),
        (
            "fixed",
            {"early_stopping": 5},
            "fixed.early_stopping is set by the search (use early_stopping_rounds)",
        ),
        (
            "grid",
            {"num_leafs": [7]},
            "grid.num_leafs is not a LightGBM parameter (did you mean 'num_leaves'",
        ),
    ],
)
def test_reserved_and_unknown_names_are_refused(section, name, message):
    overrides = {section: {**({"objective": "binary"} if section == "fixed" else {}), **name}}
    with pytest.raises(ValidationError) as error:
        tuning_params(**overrides)
    assert message in str(error.value)


def test_num_boost_round_is_a_grid_axis_only():
    assert tuning_params(grid={"num_boost_round": [10, 20]}).n_combinations == 2
    assert lightgbm_params.reserved_name_error("grid", "num_boost_round") is None
    assert lightgbm_params.reserved_name_error("fixed", "num_boost_round") is not None
    assert "nrounds" in lightgbm_params.ROUND_ALIASES
    assert lightgbm_params.model_params(_params(nrounds=5, num_threads=2, seed=1)) == _params(
        seed=1
    )


def test_every_metric_has_a_direction_and_a_task():
    assert set(lightgbm_params.HIGHER_IS_BETTER) == set(lightgbm_params.METRICS)
    tasks = lightgbm_params.TASK_METRICS
    assert set().union(*tasks.values()) == set(lightgbm_params.METRICS)
    assert set(lightgbm_params.DEFAULT_PRIMARY_METRIC) == set(tasks)
    for task, metric in lightgbm_params.DEFAULT_PRIMARY_METRIC.items():
        assert metric in tasks[task]
    assert lightgbm_params.higher_is_better("auc_roc") and not lightgbm_params.higher_is_better(
        "rmse"
    )
    assert lightgbm_params.higher_is_better("auc_ovr_macro")
    assert lightgbm_params.higher_is_better("f1_macro")
    assert not lightgbm_params.higher_is_better("multi_logloss")


def test_dataset_params_keep_only_binning_params():
    params = _params(max_bin=63, min_data_in_bin=5, num_leaves=7)

    assert lightgbm_params.dataset_params(params) == {
        "max_bin": 63,
        "min_data_in_bin": 5,
        "feature_pre_filter": False,
        "verbosity": -1,
    }


def test_spellings_are_the_same_set_from_any_alias():
    assert lightgbm_params.spellings("colsample_bytree") == lightgbm_params.spellings(
        "feature_fraction"
    )
    assert "min_data_in_leaf" in lightgbm_params.spellings("min_child_samples")
    assert lightgbm_params.spellings("not_a_parameter") == {"not_a_parameter"}


@pytest.mark.parametrize(
    ("section", "name", "message"),
    [
        (
            "grid",
            {"learning_rate": [0.1, True]},
            "grid.learning_rate value true is a boolean, but LightGBM's learning_rate takes a "
            "number",
        ),
        # An alias is checked as its canonical parameter.
        ("grid", {"eta": ["0.1"]}, 'grid.eta value "0.1" is a string, but LightGBM\'s '),
        ("fixed", {"is_unbalance": "yes"}, 'fixed.is_unbalance value "yes" is a string'),
        ("fixed", {"boosting": 1}, "fixed.boosting value 1 is a number, but LightGBM's boosting"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_naming_its_setting(section, name, message):
    overrides = {section: {**({"objective": "binary"} if section == "fixed" else {}), **name}}
    with pytest.raises(ValidationError) as error:
        tuning_params(**overrides)
    assert message in str(error.value)


def test_values_of_the_right_type_pass():
    params = tuning_params(
        fixed={"objective": "binary", "is_unbalance": True, "seed": 3, "metric": "auc"},
        grid={"learning_rate": [0.1, 1], "num_leaves": [7], "boosting": ["gbdt", "dart"]},
    )
    assert params.n_combinations == 4


def _lightgbm_directions(objective: str, metrics: list[str], y, group=None) -> dict[str, bool]:
    """LightGBM's own is_higher_better of each validation metric, from one boosting round."""
    x = np.random.default_rng(0).random((len(y), 3))
    data = lgb.Dataset(x, y, group=group)
    params = {"objective": objective, "metric": metrics, "verbosity": -1}
    if objective == "multiclass":
        params["num_class"] = 3
    valid = lgb.Dataset(x, y, group=group, reference=data)
    booster = lgb.train(params, data, 1, valid_sets=[valid], keep_training_booster=True)
    return {name: higher for _, name, _, higher in booster.eval_valid()}


@pytest.mark.parametrize(
    ("objective", "metrics", "labels", "group"),
    [
        ("binary", ["auc", "average_precision", "binary_logloss", "binary_error"], 2, None),
        ("regression", ["l2", "l1", "rmse", "huber", "mape"], None, None),
        ("multiclass", ["auc_mu", "multi_logloss", "multi_error"], 3, None),
        ("lambdarank", ["ndcg", "map"], 3, [20] * 3),
    ],
)
def test_validation_directions_are_lightgbms_own(objective, metrics, labels, group):
    rng = np.random.default_rng(1)
    y = rng.random(60) if labels is None else np.arange(60) % labels
    directions = _lightgbm_directions(objective, metrics, y, group)
    assert len(directions) >= len(metrics)
    for name, higher in directions.items():
        assert lightgbm_params.validation_higher_is_better(name) == higher, name


@pytest.mark.parametrize(
    ("name", "end"),
    [
        ("num_leaves", "low"),
        ("max_leaves", "low"),
        ("max_depth", "low"),
        ("min_child_samples", "high"),
        ("eta", "high"),
        ("num_boost_round", "low"),
        ("lambda_l1", None),
        ("colsample_bytree", None),
    ],
)
def test_each_cost_bearing_parameter_has_its_cheap_end_under_any_spelling(name, end):
    assert lightgbm_params.cheap_end(name) == end


def test_defaults_are_lightgbms_own_under_any_spelling():
    assert lightgbm_params.default_value("num_leaves") == 31
    assert lightgbm_params.default_value("colsample_bytree") == 1  # feature_fraction's alias
    assert (
        lightgbm_params.default_value("max_depth") == -1
        and lightgbm_params.default_value("min_child_samples") == 20
    )
    # What the table's one round sets is not a default, nor is a name LightGBM has not.
    assert (
        lightgbm_params.default_value("objective") is None
        and lightgbm_params.default_value("not_a_parameter") is None
    )
