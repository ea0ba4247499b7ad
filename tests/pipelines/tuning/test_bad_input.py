"""Bad inputs: each fails with one line naming the problem and the fix, before any Spark work.

Each case runs `tuning` through a KedroSession on a scratch project (the `spark` fixture stands
in for the hook's session) and checks that no node that touches Spark ran and that no output was
written. Cases that concern the Spark environment are in tests/hooks/test_spark.py:
- unreachable master (fails within 30 s): test_unreachable_master_fails_fast_naming_the_url,
  test_cluster_env_with_a_dead_master_fails_within_30_s_naming_it;
- Java missing or too old: test_java_missing_is_explained, test_java_too_old_is_explained;
- SPARK_MASTER unset with --env cluster: test_cluster_env_without_spark_master_fails_with_the_fix.
The executors' Python is checked below on a real standalone cluster.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from kedro.framework.session import KedroSession

from spark_lgbm_tuning.run_inputs import MissingInputError
from tests.cluster import flat_output, kedro_run
from tests.project_copy import scratch_project

from .data import model_input, time_folds

DATA_PATH = "data/05_model_input/model_input.parquet"
FOLDS_PATH = "data/05_model_input/model_folds.parquet"
OUTPUTS = (
    "data/05_model_input/tuning_trials.parquet",
    "data/07_model_output/tuning_results.parquet",
    "data/07_model_output/tuning_run_info.json",
    "data/07_model_output/tuning_trial_store",
)
SMALL = {"num_boost_round": 20, "early_stopping_rounds": 5}
TPE = {"strategy": "tpe", "n_combinations": 3}


def _no_target(data):
    return data.drop(columns="target")


def _text_feature(data):
    return data.assign(feature_2=data["feature_2"].map(lambda value: f"{value:.2f}"))


def _nan_target(data):
    return data.assign(target=data["target"].astype(float).where(data.index != 7, np.nan))


def _inf_target(data):
    return data.assign(target=data["target"].astype(float).where(data.index != 7, np.inf))


def _one_class_first_fold(data):
    # Fold 0 trains on rows 0..149 (TimeSeriesSplit of 600 rows into 3 folds).
    target = data["target"].copy()
    target.iloc[:150] = 1
    return data.assign(target=target)


CASES = {
    "unknown_parameter": (
        {"grid": {"num_leafs": [7, 15]}},
        None,
        "grid.num_leafs is not a LightGBM parameter (did you mean 'num_leaves'",
    ),
    "invalid_value": (
        {"grid": {"num_leaves": [-1, 15]}},
        None,
        "tuning.grid.num_leaves value -1 is refused by LightGBM (LightGBMError: Check failed: "
        "(num_leaves) > (1)): choose values it accepts",
    ),
    "empty_grid": ({"grid": {}}, None, "grid must map at least one LightGBM parameter"),
    "grid_above_max_trials": (
        {"grid": {"num_leaves": [7, 15, 31]}, "max_trials": 4},
        None,
        "tuning.max_trials=4 but the grid has 3 combinations x 3 folds = 9 trials",
    ),
    "grid_above_max_trials_for_chosen_folds": (
        {"grid": {"num_leaves": [7, 15, 31]}, "folds": [0, 1], "max_trials": 4},
        None,
        "tuning.max_trials=4 but the grid has 3 combinations x 2 folds = 6 trials (allowed "
        "1..1000000): shrink tuning.grid, choose tuning.folds, or raise tuning.max_trials",
    ),
    "range_with_grid_strategy": (
        {"grid": {"num_leaves": {"low": 7, "high": 63}}},
        None,
        "grid.num_leaves is a range, which strategy grid cannot enumerate",
    ),
    "impossible_range": (
        {"grid": {"num_leaves": {"low": 63, "high": 7}}, "search": TPE},
        None,
        "grid.num_leaves range: a range needs low < high, got low=63 high=7",
    ),
    "log_range_from_zero": (
        {"grid": {"lambda_l1": {"low": 0, "high": 1, "log": True}}, "search": TPE},
        None,
        "grid.lambda_l1 range: a log range needs low > 0",
    ),
    "range_end_refused_by_lightgbm": (
        {"grid": {"num_leaves": {"low": 1, "high": 63, "int": True}}, "search": TPE},
        None,
        "tuning.grid.num_leaves value 1 is refused by LightGBM",
    ),
    "adaptive_without_budget": (
        {"search": {"strategy": "random"}},
        None,
        "search.strategy 'random' needs a budget: set search.n_combinations",
    ),
    "non_positive_time_budget": (
        {"search": {**TPE, "time_budget_s": 0}},
        None,
        "search.time_budget_s Input should be greater than 0",
    ),
    "unknown_strategy": (
        {"search": {"strategy": "bayes", "n_combinations": 3}},
        None,
        "Input should be 'grid', 'random', 'tpe' or 'stepwise'",
    ),
    "unknown_pruner": (
        {"search": {**TPE, "pruning": "hyperband"}},
        None,
        "Input should be 'none', 'wilcoxon', 'median' or 'halving'",
    ),
    "target_missing": ({}, _no_target, "The data has no target column 'target' (columns:"),
    "non_numeric_feature": (
        {},
        _text_feature,
        "Feature column(s) {'feature_2': 'object'} are neither numeric nor categorical",
    ),
    "nan_target": ({}, _nan_target, "The target has 1 NaN or infinite value(s) (first rows [7])"),
    "inf_target": ({}, _inf_target, "The target has 1 NaN or infinite value(s) (first rows [7])"),
    "one_class_training_fold": (
        {},
        _one_class_first_fold,
        "Fold 0's training part (150 rows) has only class 1: LightGBM cannot learn a binary "
        "classifier from it. Leave the fold out (tuning.folds)",
    ),
}


@pytest.fixture
def project(tmp_path: Path, project_root: Path, spark):
    with scratch_project(tmp_path) as root:
        yield root


def _write_inputs(project: Path, change=None) -> None:
    data = model_input()
    folds = time_folds(data)
    (change(data) if change else data).to_parquet(project / DATA_PATH)
    folds.to_parquet(project / FOLDS_PATH)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_with_one_clear_line_and_writes_nothing(project, caplog, case):
    overrides, change, message = CASES[case]
    _write_inputs(project, change)
    # In the parameters file, not runtime params: those merge dicts key by key, so a grid could
    # not be emptied or replaced.
    path = project / "conf/base/parameters_tuning.yml"
    parameters = yaml.safe_load(path.read_text())
    parameters["tuning"].update({**SMALL, **overrides})
    path.write_text(yaml.safe_dump(parameters, sort_keys=False))
    caplog.set_level(logging.INFO)
    with KedroSession.create(project_path=project) as session:
        with pytest.raises(Exception) as caught:  # noqa: PT011 - the message is what matters
            session.run(pipeline_names=["tuning"])

    text = " ".join(str(caught.value).split())
    assert message in text
    assert "Running node: run_trials" not in caplog.text
    assert [path for path in OUTPUTS if (project / path).exists()] == []


def test_missing_input_dataset_names_the_pipeline_that_makes_it(project, caplog):
    caplog.set_level(logging.INFO)
    with KedroSession.create(project_path=project) as session:
        with pytest.raises(MissingInputError) as caught:
            session.run(pipeline_names=["tuning"])

    message = str(caught.value)
    assert "Input dataset 'model_folds@pandas' does not exist" in message
    assert "model_folds.parquet" in message
    assert message.endswith("run `kedro run --pipelines data_generation` first.")
    assert "Running node" not in caplog.text


@functools.cache
def _other_python() -> str | None:
    """A working Python on PATH of another minor version than this one (None if none)."""
    for minor in range(8, 16):
        found = shutil.which(f"python3.{minor}")
        if minor == sys.version_info[1] or found is None:
            continue
        # pyenv shims exist for versions that are not installed: ask the interpreter itself.
        probe = subprocess.run(
            [found, "-c", "import sys; print(sys.version_info[1])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == str(minor):
            return found
    return None


def _bad_python_run(project: Path, cluster, python: str):
    _write_inputs(project)
    return kedro_run(
        project,
        "--env",
        "cluster",
        "--pipelines",
        "tuning",
        spark_master=cluster.master_url,
        extra_env={"PYSPARK_PYTHON": python},
    )


@pytest.mark.cluster
@pytest.mark.slow
@pytest.mark.skipif(_other_python() is None, reason="no Python of another minor version on PATH")
def test_executors_on_another_python_version_are_refused(project, standalone_cluster):
    run = _bad_python_run(project, standalone_cluster, _other_python())
    output = flat_output(run)
    assert run.returncode != 0
    assert f"Executors of {standalone_cluster.master_url}" in output
    assert "Python 3." in output and "PYSPARK_PYTHON" in output
    assert "Running node: run_trials" not in output


@pytest.mark.cluster
@pytest.mark.slow
def test_executors_that_cannot_run_the_drivers_python_are_refused(
    project, standalone_cluster, tmp_path
):
    # An interpreter that reports another version and cannot run PySpark's worker: the same
    # refusal as a real mismatch (the test above runs one where a second Python exists).
    fake = tmp_path / "python3.99"
    fake.write_text("#!/bin/sh\necho 'Python 3.99.0' >&2\nexit 1\n")
    fake.chmod(0o755)
    run = _bad_python_run(project, standalone_cluster, os.fspath(fake))
    output = flat_output(run)
    assert run.returncode != 0
    assert (
        f"Executors of {standalone_cluster.master_url} cannot run this driver's Python "
        f"3.{sys.version_info[1]}"
    ) in output
    assert "Point PYSPARK_PYTHON or spark.pyspark.python at a Python" in output
    assert "Running node" not in output
