"""tracking/records.py: what MLflow is told about a search, built from tuning_results and
tuning_trials without any MLflow call."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from spark_lgbm_tuning.pipelines.reporting.params import ReportingParams
from spark_lgbm_tuning.tracking.records import (
    combination_runs,
    combination_status,
    context_tags,
    data_fingerprint,
    flat_params,
    orphaned,
    process_tags,
    search_metrics,
    search_tags,
)


def _results() -> pd.DataFrame:
    """Two combinations x two folds; combination b's fold 1 failed."""
    params = json.dumps({"objective": "binary", "num_leaves": 7, "learning_rate": 0.1})
    return pd.DataFrame(
        {
            "trial_id": ["a0", "a1", "b0", "b1"],
            "combo_id": ["a", "a", "b", "b"],
            "fold_id": [1, 0, 0, 1],
            "param_num_leaves": [7, 7, 15, 15],
            "params_json": [params, params, params.replace("7", "15"), params.replace("7", "15")],
            "status": ["ok", "ok", "ok", "failed"],
            "error": [None, None, None, "LightGBMError: boom"],
            "auc_roc": [0.8, 0.6, 0.75, None],
            "rmse": [None, None, None, None],
            "best_iteration": [10, 20, 5, None],
            "fit_s": [1.0, 3.0, 2.0, None],
        }
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["ok", "ok"], "ok"),
        (["ok", "failed"], "failed"),
        (["failed", "timed_out", "ok"], "timed_out"),
        (["ok", "pruned", "failed"], "pruned"),
        (["ok", "lost"], "lost"),
    ],
)
def test_a_combination_is_ok_only_when_every_fold_is(statuses, expected):
    assert combination_status(pd.Series(statuses)) == expected


def test_each_combination_has_mean_std_and_per_fold_values_of_its_ok_folds():
    runs = {run.combo_id: run for run in combination_runs(_results())}

    a, b = runs["a"], runs["b"]
    assert a.status == "ok" and b.status == "failed"
    assert a.metrics["auc_roc_mean"] == pytest.approx(0.7)
    assert a.metrics["auc_roc_std"] == pytest.approx(0.1414213562)
    assert a.metrics["fold_0.auc_roc"] == 0.6 and a.metrics["fold_1.auc_roc"] == 0.8
    assert a.metrics["fit_s_mean"] == 2.0 and a.metrics["best_iteration_std"] > 0
    # b: only fold 0 is ok, so no std (one value) and no fold_1 value; no rmse at all.
    assert b.metrics["auc_roc_mean"] == 0.75 and "auc_roc_std" not in b.metrics
    assert "fold_1.auc_roc" not in b.metrics
    assert not any(key.startswith("rmse") for key in b.metrics)
    assert (b.metrics["n_folds"], b.metrics["n_folds_ok"]) == (2.0, 1.0)
    assert all(math.isfinite(value) for value in b.metrics.values())


def test_each_combination_carries_its_parameters_statuses_and_first_error():
    runs = {run.combo_id: run for run in combination_runs(_results(), namespace="regression")}

    b = runs["b"]
    assert b.name == "num_leaves=15"
    assert b.params["num_leaves"] == "15" and b.params["objective"] == "binary"
    assert b.tags["fold_0.status"] == "ok" and b.tags["fold_1.status"] == "failed"
    assert b.tags["first_error"] == "LightGBMError: boom"
    assert b.tags["namespace"] == "regression" and b.tags["status"] == "failed"
    assert "first_error" not in runs["a"].tags


def test_a_fold_pruned_at_a_rung_is_tagged_with_its_round():
    results = _results().assign(
        status=["ok", "ok", "ok", "pruned"], pruned_at_round=[None, None, None, 300.0]
    )
    runs = {run.combo_id: run for run in combination_runs(results)}

    assert runs["b"].status == "pruned"
    assert runs["b"].tags["fold_1.pruned_at_round"] == "300"
    assert "fold_0.pruned_at_round" not in runs["b"].tags
    assert not any(key.endswith("pruned_at_round") for key in runs["a"].tags)


def test_the_data_fingerprint_names_each_fold_and_changes_with_any_of_them():
    # A failed trial's row may lack the fingerprint: it names no data.
    trials = pd.DataFrame(
        {"fold_id": [0, 0, 1, 1, 1], "fold_fingerprint": ["f0", "f0", "f1", "f1", None]}
    )
    tags = data_fingerprint(trials)
    assert tags["fold_fingerprint.0"] == "f0" and tags["fold_fingerprint.1"] == "f1"
    assert data_fingerprint(trials.iloc[::-1])["data_fingerprint"] == tags["data_fingerprint"]
    assert set(tags) == {"fold_fingerprint.0", "fold_fingerprint.1", "data_fingerprint"}
    changed = trials.assign(fold_fingerprint=["f0", "f0", "f1", "other", None])
    assert data_fingerprint(changed)["data_fingerprint"] != tags["data_fingerprint"]


def test_parameter_blocks_become_one_param_per_leaf_key():
    flat = flat_params("tuning", {"grid": {"num_leaves": [7, 15]}, "resume": True, "fixed": {}})
    assert flat == {
        "tuning.grid.num_leaves": "[7, 15]",
        "tuning.resume": "True",
        "tuning.fixed": "{}",
    }
    assert len(flat_params("x", "y" * 10_000)["x"]) == 6000
    typed = flat_params("reporting", ReportingParams(top_n=3))
    assert typed["reporting.top_n"] == "3" and typed["reporting.rounds_aggregate"] == "median"


def test_run_info_numbers_become_metrics_and_words_tags():
    info = {
        "wall_s": 12.5,
        "n_ok": 3,
        "resume": True,
        "trial_timeout_s": None,
        "task": "regression",
    }
    assert search_metrics(info) == {"search.wall_s": 12.5, "search.n_ok": 3.0}
    assert search_tags(info) == {"search.task": "regression"}


def test_context_tags_hold_the_commit_inside_a_repository_and_versions_always(tmp_path: Path):
    tags = context_tags(Path(__file__).resolve().parents[2])
    assert len(tags["git.commit"]) == 40 and tags["git.dirty"] in {"true", "false"}
    assert tags["version.mlflow"].startswith("3.")
    assert {"version.lightgbm", "version.kedro", "version.pyspark"} <= set(tags)
    outside = context_tags(tmp_path)
    assert "git.commit" not in outside and "version.kedro" in outside


def test_a_run_is_orphaned_only_when_its_process_on_this_host_has_ended():
    ended = subprocess.Popen(["true"])
    ended.wait()
    this = process_tags()
    assert this["process.pid"] == str(os.getpid())

    assert not orphaned(this)  # this process runs
    assert orphaned(this | {"process.pid": str(ended.pid)})
    # A reused pid (another start time) is not the run's process.
    assert orphaned(this | {"process.start": "1"})
    # Another host's process cannot be checked; a run without the tags is left alone.
    assert not orphaned(this | {"process.pid": str(ended.pid), "process.host": "elsewhere"})
    assert not orphaned({})
