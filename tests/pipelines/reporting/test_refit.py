"""Where the final refit runs (reporting.refit_on) and the refit as one Spark task."""

from __future__ import annotations

import logging

import lightgbm as lgb
import numpy as np
import pytest

from spark_lgbm_tuning.executor.trial import fit_model
from spark_lgbm_tuning.pipelines.reporting.refit import fit_on_executor, refit_session
from spark_lgbm_tuning.pipelines.reporting.results import ReportingError

PARAMS = {
    "objective": "binary",
    "num_leaves": 7,
    "learning_rate": 0.1,
    "min_child_samples": 10,
    "seed": 3,
    "verbosity": -1,
    "num_threads": 1,
}


def test_auto_refits_on_the_driver_without_a_cluster(spark):
    assert refit_session("auto", None) is None
    assert refit_session("auto", spark) is None  # local[2]: the driver's own cores
    assert refit_session("driver", spark) is None
    assert refit_session("executor", spark) is spark


def test_executor_without_a_session_is_refused_naming_the_setting():
    with pytest.raises(ReportingError, match="refit_on is executor, but this run has no classic"):
        refit_session("executor", None)


def test_the_executors_model_is_the_drivers(spark, caplog):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 4))
    y = (x[:, 0] + 0.3 * rng.normal(size=600) > 0).astype(float)
    names = ["a", "b", "c", "d"]

    with caplog.at_level(logging.INFO):
        text = fit_on_executor(spark, PARAMS, 25, x=x, y=y, feature_names=names)
    remote = lgb.Booster(model_str=text)
    local = fit_model(PARAMS, 25, x, y, names)

    assert "Refit on executor driver of local[2]" in caplog.text
    assert remote.feature_name() == names and remote.num_trees() == 25
    np.testing.assert_array_equal(remote.predict(x), local.predict(x))
    # A second refit in the same SparkContext ships a file of its own name.
    again = fit_on_executor(spark, {**PARAMS, "num_leaves": 3}, 5, x=x, y=y, feature_names=names)
    assert lgb.Booster(model_str=again).num_trees() == 5
