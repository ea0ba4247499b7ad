"""Faults on a real standalone cluster: a worker killed, the driver interrupted, trials timed out.

Each test runs `kedro run --env cluster --pipelines tuning` as a subprocess on a scratch project
with a small search (36 trials of ~0.5-1 s each), and acts on it mid-run: SIGKILL to a worker's
process group, SIGINT/SIGTERM to the driver. What must hold afterwards: every trial exactly once
in tuning_results, a trial store that reads back, and a rerun that finishes what was left.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from spark_lgbm_tuning.datasets.trial_store import TrialStore
from tests.cluster import flat_output, kedro_run, run_tuning_on_cluster, subprocess_env
from tests.project_copy import copy_project
from tools.local_cluster import LocalSparkCluster

from .data import TIMEOUT_SEARCH, model_input, time_folds

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
logger = logging.getLogger(__name__)

STORE = "data/07_model_output/tuning_trial_store"
RESULTS = "data/07_model_output/tuning_results.parquet"
RUN_INFO = "data/07_model_output/tuning_run_info.json"
N_TRIALS = 12 * 3
# Fixed rounds on up to 1500 train rows: ~0.3-1 s per trial on one core.
SEARCH = {
    "grid": {
        "num_leaves": [31, 63],
        "learning_rate": [0.01, 0.02, 0.05],
        "min_child_samples": [5, 10],
    },
    "num_boost_round": 700,
    "early_stopping_rounds": 0,
    "progress_interval_s": 2,
}
WAIT_S = 240


def _project(root: Path, project_root: Path, **overrides) -> Path:
    project = copy_project(root)
    data = model_input(n_rows=2000, n_features=6)
    data.to_parquet(project / "data/05_model_input/model_input.parquet")
    time_folds(data, n_splits=3).to_parquet(project / "data/05_model_input/model_folds.parquet")
    path = project / "conf/base/parameters_tuning.yml"
    parameters = yaml.safe_load(path.read_text())
    parameters["tuning"].update({**SEARCH, **overrides})
    path.write_text(yaml.safe_dump(parameters, sort_keys=False))
    return project


def _start_run(project: Path, master: str, log: Path) -> subprocess.Popen:
    with log.open("w") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "kedro", "run", "--env", "cluster", "--pipelines", "tuning"],
            cwd=project,
            env=subprocess_env(master),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def _wait_for_batches(project: Path, run: subprocess.Popen, count: int) -> int:
    """Wait until the trial store holds `count` batch files; returns how many it holds."""
    store = TrialStore(project / STORE)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and run.poll() is None:
        found = len(store.batch_files())
        if found >= count:
            return found
        time.sleep(0.1)
    run.kill()
    pytest.fail(f"The run stored fewer than {count} trials within {WAIT_S} s (rc {run.poll()})")


def _finish(run: subprocess.Popen, timeout_s: float = WAIT_S) -> int:
    try:
        return run.wait(timeout_s)
    except subprocess.TimeoutExpired:
        run.kill()
        run.wait(10)
        raise


def _flat(log: Path) -> str:
    return " ".join(log.read_text(errors="replace").split())


def _raw_rows(store: TrialStore) -> pd.DataFrame:
    """Every row of every batch file of the store, duplicates included."""
    return pd.concat([pq.read_table(path).to_pandas() for path in store.batch_files()])


def _results(project: Path) -> pd.DataFrame:
    return pd.read_parquet(project / RESULTS)


def test_a_lost_worker_loses_and_duplicates_no_trial(tmp_path, project_root):
    project = _project(tmp_path / "project", project_root)
    log = tmp_path / "run.log"
    with LocalSparkCluster(workers=2, cores=1, run_dir=tmp_path / "cluster") as cluster:
        run = _start_run(project, cluster.master_url, log)
        try:
            _wait_for_batches(project, run, 3)
            worker = next(info for info in cluster.state.processes if info.role == "worker-1")
            # The worker, its executor JVM and the executor's Python workers: one process group.
            os.killpg(worker.pid, signal.SIGKILL)
            returncode = _finish(run)
        finally:
            if run.poll() is None:
                run.kill()
    output = _flat(log)
    assert returncode == 0, output[-4000:]

    results = _results(project)
    info = json.loads((project / RUN_INFO).read_text())
    assert len(results) == N_TRIALS and results["trial_id"].is_unique
    assert (results["status"] == "ok").all()
    assert "was lost" in output and "Spark reruns its trials on the remaining executors" in output
    assert len(info["executors_lost"]) == 1
    # Both executors ran trials before one was lost; the store's files (read raw: load() would
    # hide duplicates) hold each trial once after compaction.
    assert results["executor_id"].nunique() == 2
    raw = _raw_rows(TrialStore(project / STORE))
    assert raw["trial_id"].is_unique
    assert sorted(raw["trial_id"]) == sorted(results["trial_id"])


def test_sigint_then_sigterm_keep_finished_trials_and_the_rerun_finishes(
    tmp_path, project_root, standalone_cluster
):
    project = _project(tmp_path / "project", project_root)
    store = TrialStore(project / STORE)
    master = standalone_cluster.master_url

    interrupted = {}
    for number, signum in enumerate((signal.SIGINT, signal.SIGTERM)):
        log = tmp_path / f"run-{number}.log"
        run = _start_run(project, master, log)
        before = len(store.load())
        try:
            _wait_for_batches(project, run, len(store.batch_files()) + 2)
            run.send_signal(signum)
            returncode = _finish(run, 60)
        finally:
            if run.poll() is None:
                run.kill()
        output = _flat(log)
        assert returncode != 0, output[-3000:]
        assert "Search interrupted: cancelling" in output, output[-3000:]
        # Every batch is whole; nothing half-written is left; the results were never saved.
        for path in store.batch_files():
            pq.read_table(path)
        assert not list(store.path.glob(".*.tmp"))
        assert not (project / RESULTS).exists()
        # Each trial was stored once: a rerun runs only what the store lacks, and a job's rows
        # are handed over once (read raw: load() would hide duplicates).
        raw = _raw_rows(store)
        assert raw["trial_id"].is_unique and len(raw) > before
        interrupted[signum] = (before, len(raw))
        if number == 1:
            assert f"Trial store {store.path}: {before} of {N_TRIALS} trials reused" in output

    final_log = tmp_path / "run-final.log"
    run = kedro_run(project, "--env", "cluster", "--pipelines", "tuning", spark_master=master)
    final_log.write_text(run.stdout + run.stderr)
    output = flat_output(run)
    assert run.returncode == 0, output[-4000:]
    kept = interrupted[signal.SIGTERM][1]
    assert f"{kept} of {N_TRIALS} trials reused, {N_TRIALS - kept} to run" in output
    results = _results(project)
    assert len(results) == N_TRIALS and results["trial_id"].is_unique
    assert (results["status"] == "ok").all()
    info = json.loads((project / RUN_INFO).read_text())
    assert info["n_reused"] == kept and info["n_run"] == N_TRIALS - kept


def test_a_trial_over_its_timeout_is_stored_timed_out_and_the_search_goes_on(
    tmp_path, project_root, standalone_cluster
):
    # One trial passes the 4 s limit by far, the other ends in under a second (TIMEOUT_SEARCH).
    project = _project(tmp_path / "project", project_root, **TIMEOUT_SEARCH)
    run = run_tuning_on_cluster(project, standalone_cluster)
    assert run.returncode == 0, flat_output(run)[-4000:]

    results = _results(project)
    slow = results[results["param_min_child_samples"] == 2]
    fast = results[results["param_min_child_samples"] == 100_000]
    assert len(slow) == len(fast) == 3
    assert (slow["status"] == "timed_out").all(), slow[["status", "error"]]
    assert (
        slow["error"].str.match(r"TrialTimeoutError: stopped after 4\.\d s and \d+ boosting").all()
    )
    assert (fast["status"] == "ok").all() and fast["best_iteration"].eq(10_000).all()
    info = json.loads((project / RUN_INFO).read_text())
    assert info["n_timed_out"] == 3 and info["trial_timeout_s"] == 4.0
    # Counted as what they are, and each one logged as it arrives.
    output = flat_output(run)
    assert "Trials 6/6 done (0 failed, 3 timed out)" in output
    for trial_id in slow["trial_id"]:
        assert f"Trial {trial_id} (combination" in output
    # Stored as final for this limit: a rerun with the same limit runs nothing again.
    again = run_tuning_on_cluster(project, standalone_cluster)
    assert again.returncode == 0, flat_output(again)[-4000:]
    assert "6 of 6 trials reused, 0 to run" in flat_output(again)


# The run must end this soon after its master dies (measured: 7.3 s, the search went on).
MASTER_LOST_LIMIT_S = 120
# Spark's own line when the driver loses its standalone master (StandaloneSchedulerBackend).
MASTER_LOST = "Disconnected from Spark cluster! Waiting for reconnection"


def test_a_master_killed_mid_search_ends_the_run_in_time_and_the_rerun_resumes(
    tmp_path, project_root
):
    """Standalone executors outlive their master: the search finishes on them, every trial
    once, and the driver's stop does not wait for the dead master; a rerun on a new cluster
    reuses every stored trial. Before this test the case was untried; it needed no fix."""
    project = _project(tmp_path / "project", project_root)
    store = TrialStore(project / STORE)
    log = tmp_path / "run.log"
    with LocalSparkCluster(workers=2, cores=1, run_dir=tmp_path / "cluster") as cluster:
        run = _start_run(project, cluster.master_url, log)
        try:
            _wait_for_batches(project, run, 3)
            master = next(info for info in cluster.state.processes if info.role == "master")
            killed = time.monotonic()
            os.kill(master.pid, signal.SIGKILL)
            returncode = _finish(run, MASTER_LOST_LIMIT_S)
            ended_after = time.monotonic() - killed
        finally:
            if run.poll() is None:
                run.kill()
    output = _flat(log)
    assert returncode == 0, output[-4000:]
    # The master died while trials ran, and the search went on without it.
    assert output.index(MASTER_LOST) < output.index("Search done:"), output[-4000:]
    results = _results(project)
    assert len(results) == N_TRIALS and results["trial_id"].is_unique
    assert (results["status"] == "ok").all()
    for path in store.batch_files():
        pq.read_table(path)
    stored = len(store.load())
    assert stored == N_TRIALS

    with LocalSparkCluster(workers=2, cores=1, run_dir=tmp_path / "cluster-2") as cluster:
        again = run_tuning_on_cluster(project, cluster)
    output = flat_output(again)
    assert again.returncode == 0, output[-4000:]
    assert f"{stored} of {N_TRIALS} trials reused, 0 to run" in output
    logger.warning("master killed: the run ended %.1f s later, exit %d", ended_after, returncode)
