"""The Connect-vs-classic benchmark's session settings and its results check (its run is the
same `run_ours` as tools/benchmark's, tested there and in tests/pipelines/tuning)."""

from __future__ import annotations

import pandas as pd

from spark_lgbm_tuning.spark.remote import REMOTE_KEY
from spark_lgbm_tuning.spark.session import build_spark_conf
from tools.connect_benchmark import same_results, session_conf


def test_both_sessions_get_the_same_cores_one_as_a_master_one_as_a_connect_server(
    project_root,
):
    classic = build_spark_conf(session_conf(project_root, "classic", 3))
    connect = build_spark_conf(session_conf(project_root, "connect", 3))
    assert classic.get("spark.master") == "local[3]" and classic.get(REMOTE_KEY) is None
    assert connect.get(REMOTE_KEY) == "local[3]" and connect.get("spark.master") is None
    assert connect.get("spark.default.parallelism") == "3"
    assert classic.get("spark.task.cpus") == connect.get("spark.task.cpus")


def test_results_differing_in_a_metric_or_a_trial_are_reported():
    classic = pd.DataFrame({"trial_id": ["a", "b"], "auc_roc": [0.9, 0.8]})
    assert same_results(classic, classic.copy()) == {
        "trials": 2,
        "same_trial_ids": True,
        "max_abs_metric_diff": 0.0,
    }
    other = pd.DataFrame({"trial_id": ["a", "c"], "auc_roc": [0.85, 0.8]})
    report = same_results(classic, other)
    assert not report["same_trial_ids"] and abs(report["max_abs_metric_diff"] - 0.05) < 1e-12
