"""pipelines/reporting/results.py: the contract reporting holds tuning_results to."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from spark_lgbm_tuning.pipelines.reporting.results import (
    ReportingError,
    direction,
    metrics_with_values,
    plain,
    truncate,
    validated_results,
)
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams

TUNING = TuningParams.model_validate(
    {
        "primary_metric": "auc_roc",
        "fixed": {"objective": "binary"},
        "grid": {"num_leaves": [7, 15]},
    }
)


def _results(**overrides) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "trial_id": ["t0", "t1"],
            "combo_id": ["c0", "c1"],
            "fold_id": [0, 0],
            "status": ["ok", "failed"],
            "error": [None, "LightGBMError: bad"],
            "params_json": ["{}", "{}"],
            "best_iteration": [10, None],
            "fit_s": [0.5, 0.1],
            "auc_roc": ["0.75", None],
            "rmse": [None, None],
        }
    )
    return frame.assign(**overrides)


def test_metric_columns_become_numbers_and_the_input_is_not_changed():
    raw = _results()
    checked = validated_results(raw, TUNING)

    assert checked["auc_roc"].tolist()[0] == 0.75
    assert raw["auc_roc"].tolist()[0] == "0.75"


@pytest.mark.parametrize(
    ("results", "message"),
    [
        (_results().iloc[0:0], "tuning_results is empty"),
        (_results().drop(columns="fit_s"), "lacks the column(s) ['fit_s']"),
        (_results(status=["ok", "lost"]), "unknown status value(s) ['lost']"),
        (_results(status=["failed", "timed_out"]), "All 2 trials in tuning_results failed"),
        (_results(auc_roc=[None, None]), "The primary metric 'auc_roc'"),
    ],
)
def test_each_broken_contract_is_named(results, message):
    with pytest.raises(ReportingError, match=re.escape(message)):
        validated_results(results, TUNING)


def test_only_metrics_with_values_are_listed_primary_first():
    results = _results(accuracy=[0.8, None])
    assert metrics_with_values(results, "auc_roc") == ["auc_roc", "accuracy"]
    assert metrics_with_values(results, "accuracy") == ["accuracy", "auc_roc"]


def test_direction_follows_the_metric():
    assert (direction("auc_roc"), direction("logloss"), direction("rmse")) == (
        "higher",
        "lower",
        "lower",
    )


def test_plain_values_are_yaml_safe():
    assert plain({"a": np.int64(3), "b": [np.float32(0.5), float("nan")], 1: (2,)}) == {
        "a": 3,
        "b": [0.5, None],
        "1": [2],
    }


def test_long_text_is_cut_with_the_count_of_what_was_left_out():
    assert truncate("x" * 12, 10) == "x" * 10 + "… (2 more chars)"
    assert truncate(None, 10) == ""
