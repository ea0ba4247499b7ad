"""Real `kedro run` subprocesses that collide or cannot write: one clear line, no mixed results.

Each test runs `kedro run --pipelines tuning` on a scratch copy of the project (embedded
`local[*]` Spark). The measured time from start to the error is printed (`pytest -s`) for the
matrix in docs/reliability.md.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from spark_lgbm_tuning.cli import VERBOSE_HINT
from spark_lgbm_tuning.datasets.store_lock import LOCK_NAME, StoreLock
from spark_lgbm_tuning.datasets.trial_store import DAMAGED_PREFIX, TrialStore
from spark_lgbm_tuning.spark.preflight import java_executable
from tests.cluster import KEDRO_RUN_TIMEOUT_S, subprocess_env
from tests.project_copy import copy_project

from .data import model_input, time_folds

pytestmark = pytest.mark.slow
logger = logging.getLogger(__name__)

STORE = "data/07_model_output/tuning_trial_store"
RESULTS = "data/07_model_output/tuning_results.parquet"
# 12 combinations x 3 folds of fixed rounds: a search of ~10-30 s, long enough to overlap.
SEARCH = {
    "grid": {
        "num_leaves": [31, 63],
        "learning_rate": [0.01, 0.02, 0.05],
        "min_child_samples": [5, 10],
    },
    "num_boost_round": 400,
    "early_stopping_rounds": 0,
}
N_TRIALS = 12 * 3
SMALL_SEARCH = {"grid": {"num_leaves": [7, 15]}, "num_boost_round": 20, "early_stopping_rounds": 0}


def _project(root: Path, search: dict) -> Path:
    project = copy_project(root)
    data = model_input(n_rows=2000, n_features=6)
    data.to_parquet(project / "data/05_model_input/model_input.parquet")
    time_folds(data, n_splits=3).to_parquet(project / "data/05_model_input/model_folds.parquet")
    path = project / "conf/base/parameters_tuning.yml"
    parameters = yaml.safe_load(path.read_text())
    parameters["tuning"].update(search)
    path.write_text(yaml.safe_dump(parameters, sort_keys=False))
    return project


def _start(project: Path, log: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    with log.open("w") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "kedro", "run", "--pipelines", "tuning"],
            cwd=project,
            env=subprocess_env(None) | (extra_env or {}),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def _finish_all(runs: list[subprocess.Popen], started: float) -> list[float]:
    """Wait for every run; each one's wall seconds, taken when that run ended (polled)."""
    walls: dict[int, float] = {}
    while len(walls) < len(runs):
        if time.monotonic() - started > KEDRO_RUN_TIMEOUT_S:
            raise TimeoutError(f"kedro runs still going after {KEDRO_RUN_TIMEOUT_S} s")
        for index, run in enumerate(runs):
            if index not in walls and run.poll() is not None:
                walls[index] = time.monotonic() - started
        time.sleep(0.2)
    return [walls[index] for index in range(len(runs))]


def _run_once(
    project: Path, log: Path, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, float, str]:
    """One `kedro run` of the tuning pipeline: the process, its wall seconds and its output."""
    started = time.monotonic()
    run = _start(project, log, extra_env)
    [wall] = _finish_all([run], started)
    return run, wall, log.read_text()


def _squashed(text: str) -> str:
    """`text` without whitespace: rich wraps long lines (paths) wherever it likes."""
    return "".join(text.split())


def _error_paragraph(output: str) -> str:
    """The exception that ends Kedro's traceback, its wrapped lines joined, without whitespace."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    start = max(index for index, line in enumerate(lines) if "Error: " in line)
    return _squashed("".join(lines[start:]))


def test_two_runs_at_once_one_is_refused_naming_the_holder_and_results_are_whole(tmp_path):
    project = _project(tmp_path / "project", SEARCH)
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    started = time.monotonic()
    runs = [_start(project, log) for log in logs]
    walls = _finish_all(runs, started)
    outputs = [log.read_text() for log in logs]

    codes = sorted(run.returncode for run in runs)
    assert codes[0] == 0 and codes[1] != 0, outputs
    winner, loser = (0, 1) if runs[0].returncode == 0 else (1, 0)
    error = _error_paragraph(outputs[loser])
    # One line through the project's CLI (issue 16, point 6), no traceback wall.
    assert error.startswith("Error:StoreInUseError:"), outputs[loser][-3000:]
    assert "Traceback" not in outputs[loser]
    assert _squashed(f"in use by another search: pid {runs[winner].pid} on ") in error
    assert _squashed(f"(lock {project / STORE / LOCK_NAME})") in error
    assert walls[loser] < walls[winner]  # refused while the winner's search runs
    assert "resumes from them" not in outputs[loser]
    results = pd.read_parquet(project / RESULTS)
    assert len(results) == N_TRIALS and results["trial_id"].is_unique
    assert len(TrialStore(project / STORE).load()) == N_TRIALS
    assert not (project / STORE / LOCK_NAME).exists()  # released at the end
    logger.warning(
        "concurrent runs: refused after %.1f s, winner %.1f s", walls[loser], walls[winner]
    )


def test_a_file_where_the_trial_store_should_be_fails_in_one_line_before_any_trial(tmp_path):
    project = _project(tmp_path / "project", SMALL_SEARCH)
    (project / STORE).write_text("a file in the way")
    run, wall, output = _run_once(project, tmp_path / "run.log")

    assert run.returncode != 0
    expected = (
        f"Error: StoreUnwritableError: Cannot use the trial store {project / STORE}: [Errno 17] "
    )
    assert _error_paragraph(output).startswith(_squashed(expected)), output[-3000:]
    assert _squashed("File exists") in _error_paragraph(output)
    assert "Traceback" not in output
    assert "Running 2" not in output  # no Spark job started
    assert "are in the trial store" not in output and "resumes from them" not in output
    assert not (project / RESULTS).exists()
    assert (project / STORE).read_text() == "a file in the way"
    logger.warning("file in the way of the store: failed after %.1f s", wall)


def test_an_immutable_trial_store_is_refused_with_the_chattr_that_clears_it(
    tmp_path, make_immutable
):
    # Before: "… [Errno 1] Operation not permitted (…/.search.lock); nothing was run", no fix.
    project = _project(tmp_path / "project", SMALL_SEARCH)
    (project / STORE).mkdir()
    make_immutable(project / STORE)
    run, wall, output = _run_once(project, tmp_path / "run.log")

    assert run.returncode != 0
    assert _error_paragraph(output).startswith(
        _squashed(f"Error: StoreUnwritableError: Cannot write to the trial store {project / STORE}")
    ), output[-3000:]
    assert _squashed(
        f"nothing was run; {project / STORE} is immutable (`lsattr -d` shows `i`), which refuses "
        f"writes, root's too: run `chattr -i {project / STORE}` (as root), then rerun"
    ) in _error_paragraph(output)
    logger.warning("immutable store: failed after %.1f s", wall)


def test_a_store_made_immutable_mid_search_ends_on_the_batch_and_the_count(
    tmp_path, make_immutable
):
    """The last line names the batch that could not be written, what was stored before it and
    the fix; before: the lock's release failed in the immutable folder and its PermissionError
    was the last line, blaming `.search.lock`."""
    project = _project(tmp_path / "project", SEARCH)
    store = project / STORE
    started = time.monotonic()
    run = _start(project, tmp_path / "run.log")
    while run.poll() is None and not (
        store.is_dir() and any(path.name.startswith("batch-") for path in store.iterdir())
    ):
        time.sleep(0.05)
    make_immutable(store)
    frozen = time.monotonic() - started
    [wall] = _finish_all([run], started)
    output = (tmp_path / "run.log").read_text()

    assert run.returncode != 0, output[-3000:]
    stored = len(TrialStore(store).load())
    error = _error_paragraph(output)
    assert error.startswith(
        _squashed("Error: StoreUnwritableError: Cannot write the trial store batch batch-")
    ), output[-3000:]
    assert _squashed(f"to {store}: [Errno 1] Operation not permitted") in error
    assert _squashed(f"{stored} finished trial(s) of this run were stored before it;") in error
    assert _squashed(f"run `chattr -i {store}` (as root), then rerun") in error
    assert LOCK_NAME not in error  # before: "Cannot use …/.search.lock: [Errno 1] …"
    logger.warning(
        "store made immutable after %.1f s (first batch): failed after %.1f s", frozen, wall
    )


def test_a_file_the_project_did_not_write_at_the_results_path_is_refused_not_deleted(tmp_path):
    project = _project(tmp_path / "project", SMALL_SEARCH)
    (project / RESULTS).write_text("my notes")
    run, wall, output = _run_once(project, tmp_path / "run.log")

    assert run.returncode != 0
    expected = f"Refusing to replace {project / RESULTS}: it is a file it did not write"
    assert _squashed(expected) in _error_paragraph(output), output[-3000:]
    assert (project / RESULTS).read_text() == "my notes"
    # The trials did run and are kept: the next run (once the file is moved) reuses them.
    assert len(TrialStore(project / STORE).load()) == 2 * 3
    logger.warning("foreign file at the results path: failed after %.1f s", wall)


def test_a_damaged_store_batch_costs_only_its_trials_which_the_next_run_reruns(tmp_path):
    project = _project(tmp_path / "project", SMALL_SEARCH)
    first, _, output = _run_once(project, tmp_path / "first.log")
    assert first.returncode == 0, output[-3000:]
    store = TrialStore(project / STORE)
    [batch] = store.batch_files()  # 6 trials: one bounded batch
    batch.write_bytes(batch.read_bytes()[: batch.stat().st_size // 2])  # half-truncated

    run, wall, output = _run_once(project, tmp_path / "second.log")

    assert run.returncode == 0, output[-3000:]
    # Rich wraps long log lines around its location column: the parts are checked one by one.
    assert "skipped 1 unreadable batch file(s)" in output and batch.name in output, output
    assert "0 of 6 trials reused, 6 to run" in output
    assert "Traceback" not in output
    results = pd.read_parquet(project / RESULTS)
    assert len(results) == 6 and results["trial_id"].is_unique
    assert (project / STORE / f"{DAMAGED_PREFIX}{batch.name}").is_file()  # kept, not read again
    assert len(store.load()) == 6
    logger.warning("a damaged store batch: its trials rerun, run of %.1f s", wall)


def test_a_search_on_a_store_in_use_is_refused_before_spark_starts(tmp_path):
    """Before: refused in run_trials, after the JVM's start and the search's expansion (38-72 s)."""
    project = _project(tmp_path / "project", SMALL_SEARCH)
    lock = StoreLock(project / STORE)
    lock.acquire()  # held by this live test process
    try:
        run, wall, output = _run_once(project, tmp_path / "run.log")
    finally:
        lock.release()

    assert run.returncode != 0
    error = _error_paragraph(output)
    assert error.startswith("Error:StoreInUseError:"), output[-3000:]
    assert _squashed(f"in use by another search: pid {os.getpid()} on ") in error
    assert "Traceback" not in output
    assert "Starting Spark" not in output and "expand_search_space" not in output
    logger.warning("store in use: refused after %.1f s", wall)


# A `java` that takes SLOW_JVM_S to start the driver JVM (a loaded machine's start-up, made
# longer than the whole run may take); `java -version` and Spark's launcher answer at once. It
# waits on its stdin, PySpark's pipe, so it ends (as the real JVM does) once the driver is gone.
SLOW_JVM_S = 120
SLOW_JAVA = """#!/bin/sh
case "$*" in *pyspark-shell*) timeout {delay} cat > /dev/null ;; esac
exec {java} "$@"
"""


# A `java` whose driver JVM, once the driver is gone (its stdin closed), prints a start-up line as
# Spark's banner would, then touches PRINTED: a JVM still starting when the run failed.
LATE_LINE = "WARN NativeCodeLoader: the start-up line of an abandoned JVM"
LATE_JAVA = """#!/bin/sh
case "$*" in *pyspark-shell*)
  if timeout {delay} cat > /dev/null; then
    trap '' PIPE
    echo "{line}" >&2
    touch {printed}
    exit 0
  fi ;;
esac
exec {java} "$@"
"""


def _java_home(root: Path, script: str = SLOW_JAVA, **fields: object) -> Path:
    real = Path(java_executable()).resolve()
    (root / "bin").mkdir(parents=True)
    java = root / "bin" / "java"
    java.write_text(script.format(delay=SLOW_JVM_S, java=real, **fields))
    java.chmod(0o755)
    assert shutil.which("timeout")
    return root


def _one_class_project(root: Path) -> Path:
    project = _project(root, SMALL_SEARCH)
    data_path = project / "data/05_model_input/model_input.parquet"
    data = pd.read_parquet(data_path)
    # Fold 0 trains on the first quarter of the rows (TimeSeriesSplit into 3 folds).
    data.loc[: len(data) // 4 - 1, "target"] = 1
    data.to_parquet(data_path)
    return project


def test_a_fold_with_one_class_is_refused_without_waiting_for_the_jvm(tmp_path):
    """Before: the run waited for the JVM starting in the background, then refused (~30 s)."""
    project = _one_class_project(tmp_path / "project")
    java_home = _java_home(tmp_path / "slow-java")

    run, wall, output = _run_once(project, tmp_path / "run.log", {"JAVA_HOME": str(java_home)})

    assert run.returncode != 0
    error = _error_paragraph(output)
    assert error.startswith(_squashed("Error: InputDataError: Fold 0's training part")), output
    assert _squashed("has only class 1") in error
    assert "Starting Spark" in output  # the JVM was starting while the folds were checked
    assert wall < SLOW_JVM_S
    logger.warning("fold with one class: refused after %.1f s", wall)


def test_a_jvm_abandoned_while_starting_prints_nothing_after_the_error(tmp_path):
    """Issue 32: the JVM still starting when the run failed printed Spark's start-up banner and
    WARN lines after the error, so the last lines a user saw were Spark's."""
    project = _one_class_project(tmp_path / "project")
    printed = tmp_path / "late-line-printed"
    java_home = _java_home(tmp_path / "late-java", LATE_JAVA, line=LATE_LINE, printed=printed)

    run, wall, _ = _run_once(project, tmp_path / "run.log", {"JAVA_HOME": str(java_home)})
    deadline = time.monotonic() + 60
    while not printed.exists():  # the JVM's line is written after the driver exits
        assert time.monotonic() < deadline, "the late java never ran"
        time.sleep(0.2)
    output = (tmp_path / "run.log").read_text()
    lines = [line for line in output.splitlines() if line.strip()]

    assert run.returncode == 1, output[-3000:]
    assert "Starting Spark" in output  # the JVM was starting when the folds were checked
    assert LATE_LINE not in output
    assert lines[-2].startswith("Error: InputDataError: Fold 0's training part"), output[-3000:]
    assert lines[-1] == VERBOSE_HINT
    logger.warning("fold with one class, JVM abandoned: refused after %.1f s", wall)
