"""tracking/hooks.py as a user meets it: real `kedro run`s in a copy of the project, tracked on a
real MLflow server (`mlflow server`, SQLite backend, 127.0.0.1) that the test starts and stops,
on a server that is down, and with tracking switched off. The embedded SQLite store, with a
namespaced (regression) search, is checked in the one regression run of
tests/pipelines/reporting_regression/test_pipeline.py."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook
from mlflow.tracking import MlflowClient

from spark_lgbm_tuning.tracking import TrackingHooks, TrackingParams
from tests.cluster import kedro_run, subprocess_env
from tests.project_copy import copy_project

EXPERIMENT = "spark_lgbm_tuning"
# `mlflow server` takes ~5 s on an idle machine, over 100 s on a loaded 2-core one.
SERVER_START_TIMEOUT_S = 600
# A tiny search: 2 combinations x 4 folds (failed, timed_out and pruned: test_records.py).
LOCAL_PARAMETERS = {
    "parameters_data_generation.yml": "data_generation:\n  n_samples: 2000\n  n_features: 5\n",
    "parameters_tuning.yml": (
        "tuning:\n  num_boost_round: 20\n"
        "  grid:\n    num_leaves: [3, 7]\n    learning_rate: [0.1]\n    min_child_samples: [20]\n"
    ),
}
FAILURE_WARNING = "MLflow tracking failed"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory) -> Iterator[str]:
    """`mlflow server` on a free 127.0.0.1 port with a SQLite backend; its URI."""
    root = tmp_path_factory.mktemp("mlflow_server")
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    log = (root / "server.log").open("w")
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "mlflow", "server"),
            *("--backend-store-uri", f"sqlite:///{root / 'server.db'}"),
            *("--artifacts-destination", str(root / "artifacts")),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        ],
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its uvicorn workers go with it at teardown
    )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((root / "server.log").read_text()) from None
                time.sleep(0.5)
        yield uri
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _project(tmp_path: Path) -> Path:
    project = copy_project(tmp_path / "project")
    for name, text in LOCAL_PARAMETERS.items():
        (project / "conf" / "local" / name).write_text(text)
    return project


def _run(project: Path, *args: str, uri: str | None):
    run = kedro_run(project, *args, extra_env={"MLFLOW_TRACKING_URI": uri} if uri else {})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    return run


def _parent_runs(client: MlflowClient) -> list:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return []
    runs = client.search_runs([experiment.experiment_id])
    return [run for run in runs if "mlflow.parentRunId" not in run.data.tags]


@pytest.mark.slow
def test_a_kedro_run_is_one_tracked_run_with_the_search_nested(tmp_path, mlflow_server):
    project = _project(tmp_path)
    client = MlflowClient(mlflow_server)
    before = {run.info.run_id for run in _parent_runs(client)}

    _run(project, uri=mlflow_server)

    [parent] = [run for run in _parent_runs(client) if run.info.run_id not in before]
    assert parent.info.status == "FINISHED" and parent.info.run_name == "__default__"
    tags, params, metrics = parent.data.tags, parent.data.params, parent.data.metrics
    assert params["tuning.num_boost_round"] == "20" and params["tuning.grid.num_leaves"] == "[3, 7]"
    assert params["data_generation.n_samples"] == "2000"
    assert tags["kedro.env"] == "local" and tags["version.mlflow"] == mlflow.__version__
    trials = pd.read_parquet(project / "data/05_model_input/tuning_trials.parquet")
    for fold_id, fingerprint in trials.groupby("fold_id")["fold_fingerprint"].first().items():
        assert tags[f"fold_fingerprint.{fold_id}"] == fingerprint
    assert metrics["search.n_trials"] == 8 and metrics["search.n_ok"] == 8
    # The search, model and files went through the background thread, the rest on the driver.
    assert metrics["tracking_s"] > 0 and metrics["tracking_background_s"] > 0

    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    by_leaves = {int(run.data.params["num_leaves"]): run for run in children}
    assert sorted(by_leaves) == [3, 7]
    leaderboard = pd.read_parquet(project / "data/08_reporting/leaderboard.parquet")
    for row in leaderboard.itertuples():
        run = by_leaves[row.param_num_leaves]
        assert (run.data.tags["status"], run.info.status) == ("ok", "FINISHED")
        assert run.data.tags.get("best") == ("true" if row.rank == 1 else None)
        assert run.data.metrics["auc_roc_mean"] == pytest.approx(row.auc_roc_mean)
        assert run.data.metrics["auc_roc_std"] == pytest.approx(row.auc_roc_std)
    results = pd.read_parquet(project / "data/07_model_output/tuning_results.parquet")
    for row in results.itertuples():
        run = by_leaves[row.param_num_leaves]
        assert run.data.metrics[f"fold_{row.fold_id}.auc_roc"] == pytest.approx(row.auc_roc)
        assert run.data.tags[f"fold_{row.fold_id}.status"] == "ok"

    [model] = client.search_logged_models([parent.info.experiment_id])
    assert model.source_run_id == parent.info.run_id
    [refit_file] = (project / "data/06_models/refit_model.txt").glob("*/refit_model.txt")
    refit = lgb.Booster(model_file=str(refit_file))
    mlflow.set_tracking_uri(mlflow_server)
    loaded = mlflow.lightgbm.load_model(model.model_uri)
    rows = pd.read_parquet(project / "data/01_raw/timeseries_classification.parquet").head(20)
    features = refit.feature_name()
    np.testing.assert_allclose(loaded.predict(rows[features]), refit.predict(rows[features]))
    assert mlflow.models.get_model_info(model.model_uri).signature.inputs.input_names() == features

    report = client.download_artifacts(parent.info.run_id, "report", str(tmp_path / "got"))
    latest = project / "data/08_reporting/tuning_report_latest.html"
    assert (Path(report) / "tuning_report.html").read_text() == latest.read_text()
    plots = {item.path for item in client.list_artifacts(parent.info.run_id, "plots")}
    assert {"plots/param_effects.json", "plots/feature_importance.json"} <= plots
    assert "plots/folds_timeline.png" in plots
    # A classification search: its ROC curve, not the regression figures it did not draw.
    assert "plots/roc_curve.json" in plots and "plots/residuals.json" not in plots
    # The local outputs stay versioned as before.
    assert len(list((project / "data/08_reporting/tuning_report.html").glob("*/*.html"))) == 1


@pytest.mark.slow
def test_a_server_that_is_down_costs_one_warning_and_nothing_else(tmp_path):
    project = _project(tmp_path)
    started = time.monotonic()
    run = _run(
        project, "--pipelines", "data_generation,tuning", uri=f"http://127.0.0.1:{_free_port()}"
    )

    output = run.stdout + run.stderr
    assert output.count(FAILURE_WARNING) == 1, output[-5000:]
    results = pd.read_parquet(project / "data/07_model_output/tuning_results.parquet")
    assert len(results) == 8 and set(results["status"]) == {"ok"}
    assert not (project / "data/09_tracking/mlruns.db").exists()
    # MLflow's own retries would hold the run for minutes before failing it.
    assert time.monotonic() - started < 240


@pytest.mark.slow
def test_a_bad_tracking_uri_costs_one_warning(tmp_path):
    project = _project(tmp_path)
    run = _run(project, "--pipelines", "data_generation", uri="nosuchscheme://nowhere")
    assert (run.stdout + run.stderr).count(FAILURE_WARNING) == 1
    assert (project / "data/01_raw/timeseries_classification.parquet").is_file()


@pytest.mark.slow
def test_tracking_off_logs_nothing(tmp_path, mlflow_server):
    project = _project(tmp_path)
    client = MlflowClient(mlflow_server)
    before = {run.info.run_id for run in _parent_runs(client)}

    run = _run(
        project,
        "--pipelines",
        "data_generation",
        "--params",
        "tracking.enabled=false",
        uri=mlflow_server,
    )

    assert {run.info.run_id for run in _parent_runs(client)} == before
    assert "MLflow tracking is off" in run.stdout + run.stderr
    tracking = project / "data" / "09_tracking"
    assert not (tracking / "mlruns.db").exists() and not (tracking / "mlruns").exists()


def test_the_switch_refuses_unknown_keys():
    assert TrackingParams.model_validate({}).enabled is True
    with pytest.raises(ValueError, match="enabled"):
        TrackingParams.model_validate({"enable": False})


def test_a_failing_step_warns_once_and_stops_tracking_for_the_run(caplog):
    """A request that fails mid-run (the server went away): one warning, no exception, and no
    later step is tried (each would wait for the server again)."""
    hooks = TrackingHooks()
    hooks._mlflow = MlflowHook()
    calls = []

    def lost(*_):
        calls.append("lost")
        raise ConnectionError("connection refused")

    with caplog.at_level(logging.WARNING):
        hooks._guarded(lost, "x")
        hooks._guarded(calls.append, "later")

    assert calls == ["lost"] and hooks._mlflow is None
    warnings = [record for record in caplog.records if FAILURE_WARNING in record.getMessage()]
    assert len(warnings) == 1 and "ConnectionError: connection refused" in warnings[0].getMessage()


# 12 combinations x 3 folds of fixed rounds: a search of ~10-30 s, long enough to stop mid-way.
LONG_SEARCH = (
    "tuning:\n  num_boost_round: 400\n  early_stopping_rounds: 0\n"
    "  grid:\n    num_leaves: [31, 63]\n    learning_rate: [0.01, 0.02, 0.05]\n"
    "    min_child_samples: [5, 10]\n"
)
TRIAL_STORE = "data/07_model_output/tuning_trial_store"
STOP_WAIT_S = 240


def _start_tuning(project: Path, log: Path) -> subprocess.Popen:
    """`kedro run --pipelines tuning` in its own process group (the JVM goes with a SIGKILL)."""
    with log.open("w") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "kedro", "run", "--pipelines", "tuning"],
            cwd=project,
            env=subprocess_env(None),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_for_new_trials(project: Path, run: subprocess.Popen, log: Path) -> None:
    """Wait until the run has stored a batch of trials (it is inside its search)."""
    store = project / TRIAL_STORE
    before = set(store.glob("batch-*")) if store.is_dir() else set()
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline and run.poll() is None:
        if store.is_dir() and set(store.glob("batch-*")) - before:
            return
        time.sleep(0.1)
    os.killpg(run.pid, signal.SIGKILL)
    pytest.fail(f"No trial stored within {STOP_WAIT_S} s: {log.read_text()[-3000:]}")


def _newest_parent(client: MlflowClient):
    return max(_parent_runs(client), key=lambda run: run.info.start_time)


@pytest.mark.slow
def test_an_interrupt_ends_killed_an_error_failed_and_a_sigkilled_run_is_closed_by_the_next(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    project = _project(tmp_path)
    (project / "conf/local/parameters_tuning.yml").write_text(LONG_SEARCH)
    _run(project, "--pipelines", "data_generation", uri=None)
    client = MlflowClient(f"sqlite:///{project / 'data/09_tracking/mlruns.db'}")

    # Ctrl-C (SIGINT) mid-search: the run is KILLED, not FINISHED.
    log = tmp_path / "sigint.log"
    run = _start_tuning(project, log)
    _wait_for_new_trials(project, run, log)
    run.send_signal(signal.SIGINT)
    assert run.wait(STOP_WAIT_S) != 0
    interrupted = _newest_parent(client)
    assert interrupted.info.status == "KILLED", log.read_text()[-3000:]

    # SIGKILL mid-search: nothing can be recorded; the run is left RUNNING with its process.
    log = tmp_path / "sigkill.log"
    run = _start_tuning(project, log)
    _wait_for_new_trials(project, run, log)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(60)
    killed = _newest_parent(client)
    assert killed.info.status == "RUNNING"
    assert killed.data.tags["process.pid"] == str(run.pid)

    # The next run on the store fails in a node (FAILED) and closes the orphan as KILLED.
    failing = kedro_run(project, "--pipelines", "tuning", "--params", "tuning.folds=[99]")
    assert failing.returncode == 1, failing.stdout[-3000:] + failing.stderr[-3000:]
    failed = _newest_parent(client)
    assert failed.info.run_id != killed.info.run_id
    assert failed.info.status == "FAILED"
    closed = client.get_run(killed.info.run_id)
    assert closed.info.status == "KILLED"
    assert closed.data.tags["closed_by_run"] == failed.info.run_id
    assert client.get_run(interrupted.info.run_id).info.status == "KILLED"
