"""Tuning on a Spark Connect session (`kedro run --env connect`: a local Spark Connect server
started by pyspark, local[2]): the DataFrame job runner of connect_jobs.py end to end, its
results against the classic session's, resume, a timed-out trial, and a refused remote.

Each test runs `kedro run` in a scratch project copy; the server's start takes a few seconds.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from spark_lgbm_tuning.datasets.trial_store import TrialStore
from tests.cluster import flat_output, kedro_run, subprocess_env
from tests.project_copy import copy_project
from tools.local_cluster import free_ports

from .data import TIMEOUT_SEARCH, time_folds, timeseries_data
from .test_faults import N_TRIALS, STORE
from .test_faults import _finish as finish
from .test_faults import _project as fault_project
from .test_faults import _raw_rows as raw_rows
from .test_faults import _wait_for_batches as wait_for_batches

pytestmark = pytest.mark.slow

SMALL = "data_generation.n_samples=1500,data_generation.n_features=5"
LEADERBOARD = "data/08_reporting/leaderboard.parquet"
RESULTS = "data/07_model_output/tuning_results.parquet"
RUN_INFO = "data/07_model_output/tuning_run_info.json"


def _run_info(project: Path) -> dict:
    return json.loads((project / RUN_INFO).read_text())


def test_connect_gives_the_classic_leaderboard_and_a_rerun_runs_nothing_again(tmp_path):
    classic = copy_project(tmp_path / "classic")
    connect = copy_project(tmp_path / "connect")
    run = kedro_run(classic, "--params", SMALL)
    assert run.returncode == 0, flat_output(run)[-4000:]
    run = kedro_run(connect, "--env", "connect", "--params", SMALL)
    assert run.returncode == 0, flat_output(run)[-4000:]

    info = _run_info(connect)
    assert info["spark_master"] == "Spark Connect (local[2])"
    assert info["n_run"] == info["n_trials"] == 32 and info["n_ok"] == 32
    results = pd.read_parquet(connect / RESULTS)
    assert results["trial_id"].is_unique and len(results) == 32
    expected = pd.read_parquet(classic / LEADERBOARD).iloc[0]
    best = pd.read_parquet(connect / LEADERBOARD).iloc[0]
    assert best["combo_id"] == expected["combo_id"]
    assert best["auc_roc_mean"] == pytest.approx(expected["auc_roc_mean"], abs=1e-9)
    report = connect / "data/08_reporting/tuning_report_latest.html"
    assert report.is_file()

    # Resume: the trial store holds every trial, so nothing runs twice.
    rerun = kedro_run(connect, "--env", "connect", "--params", SMALL)
    assert rerun.returncode == 0, flat_output(rerun)[-4000:]
    info = _run_info(connect)
    assert info["n_reused"] == 32 and info["n_run"] == 0
    assert pd.read_parquet(connect / LEADERBOARD).iloc[0]["combo_id"] == expected["combo_id"]


def test_a_trial_over_its_timeout_is_stored_timed_out_under_connect(tmp_path):
    """The executor-side TrialTimer is the only limit under Connect (no status tracker)."""
    project = copy_project(tmp_path / "project")
    data = timeseries_data(n_rows=2000, n_features=6)
    data.to_parquet(project / "data/01_raw/timeseries_classification.parquet")
    time_folds(data, n_splits=2).to_parquet(
        project / "data/05_model_input/timeseries_folds.parquet"
    )
    path = project / "conf/base/parameters_tuning.yml"
    parameters = yaml.safe_load(path.read_text())
    # One trial passes the 4 s limit by far, the other ends in under a second (TIMEOUT_SEARCH).
    parameters["tuning"].update(TIMEOUT_SEARCH)
    path.write_text(yaml.safe_dump(parameters, sort_keys=False))

    run = kedro_run(project, "--env", "connect", "--pipelines", "tuning")
    assert run.returncode == 0, flat_output(run)[-4000:]
    results = pd.read_parquet(project / RESULTS)
    slow = results[results["param_min_child_samples"] == 2]
    fast = results[results["param_min_child_samples"] == 100_000]
    assert len(slow) == len(fast) == 2
    assert (slow["status"] == "timed_out").all(), slow[["status", "error"]]
    assert slow["error"].str.startswith("TrialTimeoutError: stopped after 4.").all()
    assert (fast["status"] == "ok").all()
    assert _run_info(project)["n_timed_out"] == 2


@pytest.mark.parametrize(
    ("remote", "message"),
    [
        ("sc://127.0.0.1:{port}/;token=secret", "Spark Connect server sc://127.0.0.1:{port} is "),
        ("http://127.0.0.1:{port}", "Spark Connect URL http://127.0.0.1:{port} has no sc://"),
    ],
)
def test_a_bad_or_unreachable_remote_fails_in_one_line(tmp_path, remote, message):
    port = free_ports(1)[0]
    project = copy_project(tmp_path / "project")
    run = kedro_run(
        project,
        "--env",
        "connect",
        "--pipelines",
        "tuning",
        extra_env={"SPARK_REMOTE": remote.format(port=port)},
        timeout_s=120,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-3000:]
    errors = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, output[-3000:]
    assert "SparkConfigError: " + message.format(port=port) in errors[0]
    assert "secret" not in output and "Traceback" not in output


def test_an_interrupt_keeps_finished_trials_and_the_rerun_runs_each_once(tmp_path, project_root):
    """Ctrl-C interrupts the tagged jobs in flight; the store keeps what finished."""
    project = fault_project(tmp_path / "project", project_root)
    store = TrialStore(project / STORE)
    log = tmp_path / "run.log"
    with log.open("w") as handle:
        run = subprocess.Popen(
            [sys.executable, "-m", "kedro", "run", "--env", "connect", "--pipelines", "tuning"],
            cwd=project,
            env=subprocess_env(),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_batches(project, run, 2)
        run.send_signal(signal.SIGINT)
        returncode = finish(run, 60)
    finally:
        if run.poll() is None:
            run.kill()
    output = " ".join(log.read_text(errors="replace").split())
    assert returncode != 0, output[-3000:]
    assert "Search interrupted: cancelling" in output, output[-3000:]
    assert not (project / RESULTS).exists()
    kept = raw_rows(store)
    assert kept["trial_id"].is_unique and 0 < len(kept) < N_TRIALS

    rerun = kedro_run(project, "--env", "connect", "--pipelines", "tuning")
    assert rerun.returncode == 0, flat_output(rerun)[-4000:]
    assert f"{len(kept)} of {N_TRIALS} trials reused" in flat_output(rerun)
    results = pd.read_parquet(project / RESULTS)
    assert len(results) == N_TRIALS and results["trial_id"].is_unique
    assert raw_rows(store)["trial_id"].is_unique  # no trial stored twice
