"""The trial store: atomic batches, the latest row per trial, compaction, the catalog entry."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from kedro.io import DatasetError

from spark_lgbm_tuning.datasets.store_lock import StoreUnwritableError
from spark_lgbm_tuning.datasets.trial_outputs import COMPACTED_OUTPUT_ROWS, OUTPUTS_PREFIX
from spark_lgbm_tuning.datasets.trial_store import (
    BATCH_PREFIX,
    DAMAGED_PREFIX,
    TrialStore,
    TrialStoreDataset,
)
from spark_lgbm_tuning.executor.trial_spec import LEARNING_CURVE, TEST_PREDICTIONS
from spark_lgbm_tuning.vocabulary.trial_columns import FOLD_FINGERPRINT
from tests.cluster import KEDRO_RUN_TIMEOUT_S, flat_output, kedro_run, subprocess_env
from tests.pipelines.tuning.data import model_input, time_folds
from tests.project_copy import copy_project
from tests.small_disk import grow, tmpfs

logger = logging.getLogger(__name__)


def test_store_keeps_the_latest_row_and_ignores_temporary_files(tmp_path):
    store = TrialStore(tmp_path / "store")
    assert store.load().empty  # a store that does not exist yet is empty

    store.append([{"trial_id": "a", "status": "failed", "fit_s": None}])
    store.append([{"trial_id": "a", "status": "ok", "fit_s": 1.5}, {"trial_id": "b"}])
    (store.path / ".batch-half-written.parquet.tmp").write_bytes(b"PAR1 cut short")
    rows = store.load(["a"])

    assert rows["trial_id"].tolist() == ["a"]
    assert rows[["status", "fit_s"]].iloc[0].tolist() == ["ok", 1.5]
    assert store.compact() == 2
    assert len(store.batch_files()) == 1
    assert sorted(store.load()["trial_id"]) == ["a", "b"]


def test_a_damaged_batch_costs_only_its_trials_named_in_one_warning(tmp_path, caplog):
    store = TrialStore(tmp_path / "store", batch_rows=4)
    store.append([{"trial_id": str(number), "status": "ok"} for number in range(10)])
    assert store.compact() == 1
    batches = store.batch_files()
    sizes = [len(pq.read_table(path)) for path in batches]
    assert sorted(sizes) == [2, 4, 4]  # bounded units
    damaged = batches[sizes.index(4)]
    lost = set(pq.read_table(damaged).column("trial_id").to_pylist())
    damaged.write_bytes(damaged.read_bytes()[:100])  # half-truncated by the disk

    with caplog.at_level(logging.WARNING):
        first, second = store.load(), store.load()
    assert sorted(first["trial_id"]) == sorted(set(map(str, range(10))) - lost)
    assert second.equals(first)
    [warning] = [record.getMessage() for record in caplog.records]  # once, not per read
    assert f"skipped 1 unreadable batch file(s) ({damaged.name})" in warning
    assert "run again" in warning

    # The readable batches are bounded already: left as they are; the damaged one moved aside.
    assert store.compact() == 0
    assert store.batch_files() == [path for path in batches if path != damaged]
    assert (store.path / f"{DAMAGED_PREFIX}{damaged.name}").is_file()
    assert sorted(store.load()["trial_id"]) == sorted(first["trial_id"])


def _outputs(trial_id, value):
    """A trial's row as it returns it: its result and its test part's predictions and curve."""
    return {
        "trial_id": trial_id,
        "status": "ok",
        TEST_PREDICTIONS: np.full(3, value),
        LEARNING_CURVE: {"auc": [0.6, value]},
    }


def test_outputs_are_written_beside_their_batch_and_read_back_only_when_asked(tmp_path):
    store = TrialStore(tmp_path / "store")
    batch = store.append([{"trial_id": "a", "status": "ok"}], [_outputs("a", 0.1)])
    [outputs] = store.batch_files(OUTPUTS_PREFIX)

    # One name after the prefixes: the pair is visible, the outputs file renamed in place first.
    assert outputs.name.removeprefix(OUTPUTS_PREFIX) == batch.name.removeprefix(BATCH_PREFIX)
    assert store.batch_files() == [batch]
    assert TEST_PREDICTIONS not in store.load().columns  # results are read without them
    store.append([], [_outputs("a", 0.2)])  # predicted again later: the latest wins
    back = store.load_outputs(["a", "b"])
    assert list(back) == ["a"] and back["a"][TEST_PREDICTIONS].tolist() == [0.2] * 3
    assert back["a"][LEARNING_CURVE] == {"auc": [0.6, 0.2]}
    assert TrialStore(tmp_path / "no-store").load_outputs(["a"]) == {}


def test_compaction_keeps_the_outputs_of_kept_rows_the_search_still_needs(tmp_path):
    store = TrialStore(tmp_path / "store")
    ids = [f"t{n}" for n in range(COMPACTED_OUTPUT_ROWS + 5)]
    store.append([{"trial_id": i, "status": "ok"} for i in ids], [_outputs(i, 0.5) for i in ids])
    # Outputs whose batch never came (interrupted between the two renames): never kept.
    store.append([], [_outputs("orphan", 0.5)])

    store.compact()
    assert len(store.batch_files(OUTPUTS_PREFIX)) == 2  # bounded files
    assert set(store.load_outputs([*ids, "orphan"])) == set(ids)
    assert store.compact() == 0  # already compacted

    store.compact(keep_outputs=["t1", "t2", "unknown"])  # the leaders'
    assert set(store.load_outputs(ids)) == {"t1", "t2"}
    assert len(store.load()) == len(ids)  # the results are all kept
    store.compact(keep_outputs=[])
    assert store.batch_files(OUTPUTS_PREFIX) == [] and store.load_outputs(ids) == {}


def test_a_damaged_outputs_file_costs_only_its_predictions(tmp_path, caplog):
    store = TrialStore(tmp_path / "store")
    store.append([{"trial_id": "a", "status": "ok"}], [_outputs("a", 0.1)])
    store.append([{"trial_id": "b", "status": "ok"}], [_outputs("b", 0.2)])
    damaged = store.batch_files(OUTPUTS_PREFIX)[0]
    [lost] = pq.read_table(damaged).column("trial_id").to_pylist()
    damaged.write_bytes(damaged.read_bytes()[:50])

    with caplog.at_level(logging.WARNING):
        assert set(store.load_outputs(["a", "b"])) == {"a", "b"} - {lost}
    assert f"({damaged.name})" in caplog.text
    store.compact()
    assert (store.path / f"{DAMAGED_PREFIX}{damaged.name}").is_file()
    assert sorted(store.load()["trial_id"]) == ["a", "b"]


def test_the_catalog_entry_hands_out_the_store_and_refuses_saves(tmp_path):
    dataset = TrialStoreDataset(path=str(tmp_path / "store"))

    assert dataset.load().path == tmp_path / "store"
    assert dataset.exists()
    with pytest.raises(DatasetError, match="read-only in the catalog"):
        dataset.save(pd.DataFrame({"trial_id": ["a"]}))


def test_an_interrupted_compaction_leaves_duplicates_readers_resolve(tmp_path, monkeypatch):
    store = TrialStore(tmp_path / "store")
    store.append([{"trial_id": "a", "status": "failed"}])
    store.append([{"trial_id": "a", "status": "ok"}])
    monkeypatch.setattr("pathlib.Path.unlink", lambda *args, **kwargs: None)
    store.compact()  # the merged batch is written; removing the old ones "fails"

    assert len(store.batch_files()) == 3
    assert store.load()[["trial_id", "status"]].values.tolist() == [["a", "ok"]]


def test_the_catalog_types_the_store_entries_with_this_dataset(project_root):
    catalog = (project_root / "conf/base/catalog.yml").read_text()
    assert catalog.count("type: spark_lgbm_tuning.datasets.trial_store.TrialStoreDataset") == 2


def _versions(store: TrialStore, fold_id: int, fingerprints: list[str | None]) -> None:
    """One batch per fingerprint, oldest first: two trials computed on that version of the data."""
    for fingerprint in fingerprints:
        store.append(
            {"trial_id": f"{fold_id}-{fingerprint}-{n}", "fold_id": fold_id, "status": "ok"}
            | ({} if fingerprint is None else {FOLD_FINGERPRINT: fingerprint})
            for n in range(2)
        )


def test_retention_keeps_the_current_data_and_the_most_recent_earlier_versions(tmp_path):
    store = TrialStore(tmp_path / "store")
    # Fold 0: the current search's data (f_now) was stored first, then three other versions.
    _versions(store, 0, ["f_now", "f1", "f2", "f3"])
    # Fold 1: rows of an older release (no fingerprint), then one version.
    _versions(store, 1, [None, "g1"])
    current = {"0-f_now-0": (0, "f_now"), "0-f_now-1": (0, "f_now")}

    assert store.compact(keep_fingerprints=2, current=current) == 6

    kept = sorted(store.load()["trial_id"])
    assert kept == ["0-f3-0", "0-f3-1", "0-f_now-0", "0-f_now-1"] + [
        "1-None-0",
        "1-None-1",
        "1-g1-0",
        "1-g1-1",
    ]
    store.compact(keep_fingerprints=1, current=current)
    assert sorted(store.load()["trial_id"]) == ["0-f_now-0", "0-f_now-1", "1-g1-0", "1-g1-1"]


def test_retention_never_drops_a_current_trial_and_none_keeps_everything(tmp_path):
    store = TrialStore(tmp_path / "store")
    _versions(store, 0, ["f1", "f2", "f3"])
    # A current trial whose stored row has an older fingerprint (rows are keyed by trial_id).
    current = {"0-f1-0": (0, "f_other")}

    store.compact(keep_fingerprints=None, current=current)
    assert len(store.load()) == 6
    store.compact(keep_fingerprints=1, current=current)
    assert sorted(store.load()["trial_id"]) == ["0-f1-0", "0-f3-0", "0-f3-1"]
    with pytest.raises(ValueError, match="keep_fingerprints must be at least 1"):
        store.compact(keep_fingerprints=0)


# Appends two batches and compacts them, in a loop, as a run ending does, until killed.
COMPACTING_SCRIPT = """
import sys
from spark_lgbm_tuning.datasets.trial_store import TrialStore

store = TrialStore(sys.argv[1])
store.append([{"trial_id": "a", "status": "ok"}])
print("ready", flush=True)
while True:
    store.append([{"trial_id": "b", "status": "ok"}])
    store.append([{"trial_id": "a", "status": "ok"}])
    store.compact()
"""


def test_a_reader_is_not_misled_by_a_compaction_in_another_process(tmp_path):
    """Before: a batch removed between listing and reading was reported as damaged."""
    store = TrialStore(tmp_path / "store")
    writer = subprocess.Popen(
        [sys.executable, "-c", COMPACTING_SCRIPT, str(store.path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 3.0
        reads = 0
        while time.monotonic() < deadline:
            assert set(store.load()["trial_id"]) <= {"a", "b"}
            reads += 1
    finally:
        writer.kill()
        writer.wait()
    assert reads > 10


def test_a_batch_that_cannot_be_written_is_named_with_its_trials_and_the_fix(
    tmp_path, make_immutable
):
    # Before: "Cannot write to the trial store …: [Errno 1] Operation not permitted (…tmp)".
    store = TrialStore(tmp_path / "store")
    store.append([{"trial_id": "a", "status": "ok"}])
    make_immutable(store.path)
    with pytest.raises(StoreUnwritableError) as caught:
        store.append([{"trial_id": trial, "status": "ok"} for trial in "bcd"])
    message = str(caught.value)
    assert message.startswith(f"Cannot write the trial store batch {BATCH_PREFIX}")
    assert f"(3 trial(s)) to {store.path}: [Errno 1] Operation not permitted" in message
    assert message.endswith(f"run `chattr -i {store.path}` (as root), then rerun")
    assert list(store.load()["trial_id"]) == ["a"]


def test_a_full_disk_during_compaction_removes_its_partial_merge_and_loses_nothing(tmp_path):
    """Before: the merged files written before the disk filled stayed, duplicates taking the
    space the rerun needs, and the error named no fix."""
    with tmpfs(tmp_path / "disk", "40k") as disk:
        store = TrialStore(disk / "store", batch_rows=1)
        for index in range(4):
            store.append([{"trial_id": f"t{index}", "status": "ok", "score": float(index)}])
            store.append([{"trial_id": f"t{index}", "status": "ok", "score": float(index)}])
        before = sorted(path.name for path in store.batch_files())
        # 8 one-page batches and the folder fill 36 KB of 40: the first merged file fits.
        with pytest.raises(StoreUnwritableError) as raised:
            store.compact()

        message = str(raised.value)
        assert message.startswith(f"Cannot compact the trial store {store.path}: [Errno 28]")
        assert "the disk (or your quota) is full: free some space and rerun" in message
        assert "nothing was lost" in message
        assert sorted(path.name for path in store.batch_files()) == before
        assert not list(store.path.glob(".*.tmp"))
        assert store.load()["trial_id"].tolist() == ["t0", "t1", "t2", "t3"]

        grow(disk, "1m")
        assert store.compact() == len(before)
        assert len(store.batch_files()) == 4
        assert store.load()["score"].tolist() == [0.0, 1.0, 2.0, 3.0]


def _tuning_project(root: Path, search: dict) -> Path:
    """A scratch copy of the project with a 2000-row model input in 3 folds and `search`."""
    project = copy_project(root)
    data = model_input(n_rows=2000, n_features=6)
    data.to_parquet(project / "data/05_model_input/model_input.parquet")
    time_folds(data, n_splits=3).to_parquet(project / "data/05_model_input/model_folds.parquet")
    parameters = yaml.safe_load((project / "conf/base/parameters_tuning.yml").read_text())
    parameters["tuning"].update(search)
    (project / "conf/base/parameters_tuning.yml").write_text(yaml.safe_dump(parameters))
    return project


# Two combinations x 3 folds of 20 rounds: 6 trials stored in 5 batch files (and 5 outputs files)
# that take 28 pages of tmpfs with the lock; the compaction's merged batch takes 7 more.
DISK_FULL_SEARCH = {
    "grid": {"num_leaves": [7, 15]},
    "num_boost_round": 20,
    "early_stopping_rounds": 0,
}
DISK_FULL_TRIALS = 6
DISK_FULL_SIZE = "128k"  # the batches fit, the merged batch does not (3 pages left)


@pytest.mark.slow
def test_a_disk_full_at_compaction_is_one_line_loses_no_trial_and_the_rerun_reuses_all(tmp_path):
    project = _tuning_project(tmp_path / "project", DISK_FULL_SEARCH)

    with tmpfs(tmp_path / "disk", DISK_FULL_SIZE) as disk:
        store = TrialStore(disk / "tuning_trial_store")
        entry = {
            "type": f"{TrialStoreDataset.__module__}.TrialStoreDataset",
            "path": str(store.path),
        }
        (project / "conf/local/catalog.yml").write_text(
            yaml.safe_dump({"tuning_trial_store": entry})
        )

        started = time.monotonic()
        run = kedro_run(project, "--pipelines", "tuning")
        failed_after = time.monotonic() - started
        output = flat_output(run)
        assert run.returncode == 1, output[-4000:]
        # The search ended (every batch fitted), then its compaction met the full disk.
        assert f"Trials {DISK_FULL_TRIALS}/{DISK_FULL_TRIALS} done" in output, output[-4000:]
        errors = [line for line in (run.stdout + run.stderr).splitlines() if "Error: " in line]
        assert len(errors) == 1 and errors[0].startswith("Error: StoreUnwritableError: "), errors
        error = output[output.index("Error: StoreUnwritableError: ") :]
        assert f"Cannot compact the trial store {store.path}: [Errno 28]" in error, error
        assert "the disk (or your quota) is full: free some space and rerun" in error
        # Nothing lost: every batch reads back whole, no temporary file is left.
        for path in store.batch_files():
            pq.read_table(path)
        assert not list(store.path.glob(".*.tmp"))
        assert len(store.load()) == DISK_FULL_TRIALS

        grow(disk, "1m")
        started = time.monotonic()
        rerun = kedro_run(project, "--pipelines", "tuning")
        rerun_s = time.monotonic() - started
        output = flat_output(rerun)
        assert rerun.returncode == 0, output[-4000:]
        reused = f"{DISK_FULL_TRIALS} of {DISK_FULL_TRIALS} trials reused, 0 to run"
        assert f"Trial store {store.path}: {reused}" in output
        assert len(store.batch_files()) == 1  # compacted now
    logger.warning(
        "disk full at compaction: error after %.1f s, rerun %.1f s", failed_after, rerun_s
    )


# An env of the scratch project with other data (its own model input and folds, same fold ids)
# and another grid, whose runs share conf/base's trial store with the default env's.
OTHER_ENV = "other"


def _other_env(project: Path) -> None:
    data = model_input(n_rows=1500, n_features=6, seed=1)
    data.to_parquet(project / "data/05_model_input/other_input.parquet")
    time_folds(data, n_splits=3).to_parquet(project / "data/05_model_input/other_folds.parquet")
    env = project / "conf" / OTHER_ENV
    env.mkdir()
    atomic = "spark_lgbm_tuning.datasets.atomic_parquet.AtomicParquetDataset"
    catalog = {
        f"model_{name}@pandas": {
            "type": atomic,
            "filepath": f"data/05_model_input/other_{name}.parquet",
        }
        for name in ("input", "folds")
    }
    (env / "catalog.yml").write_text(yaml.safe_dump(catalog))
    (env / "parameters_tuning.yml").write_text(
        yaml.safe_dump({"tuning": {"grid": {"num_leaves": [7, 31]}}})
    )


def _start_tuning(project: Path, log: Path, *args: str) -> subprocess.Popen:
    with log.open("w") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "kedro", "run", "--pipelines", "tuning", *args],
            cwd=project,
            env=subprocess_env(None),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.slow
def test_two_envs_on_one_store_one_waits_for_the_other_and_both_keep_their_trials(tmp_path):
    project = _tuning_project(tmp_path / "project", DISK_FULL_SEARCH)
    _other_env(project)
    store = TrialStore(project / "data/07_model_output/tuning_trial_store")
    envs = [("--env", "local"), ("--env", OTHER_ENV)]

    started = time.monotonic()
    runs = [_start_tuning(project, tmp_path / f"first-{i}.log", *env) for i, env in enumerate(envs)]
    walls = [0.0, 0.0]
    while not all(walls):
        assert time.monotonic() - started < KEDRO_RUN_TIMEOUT_S, "kedro runs still going"
        for index, run in enumerate(runs):
            if run.poll() is not None and not walls[index]:
                walls[index] = time.monotonic() - started
        time.sleep(0.2)
    outputs = [" ".join((tmp_path / f"first-{i}.log").read_text().split()) for i in range(2)]
    assert sorted(run.returncode for run in runs) == [0, 1], outputs
    winner = 0 if runs[0].returncode == 0 else 1
    loser = 1 - winner
    errors = outputs[loser].split(" Error: ")[1:]
    assert len(errors) == 1 and errors[0].startswith("StoreInUseError: "), outputs[loser][-3000:]
    assert f"in use by another search: pid {runs[winner].pid} on " in errors[0]
    assert walls[loser] < walls[winner]  # refused at once, while the other's search runs

    # One after the other: the refused env runs its own trials (other data: nothing to reuse)
    # and its compaction keeps the other env's (two data versions per fold, 3 kept).
    second = kedro_run(project, "--pipelines", "tuning", *envs[loser])
    assert second.returncode == 0, flat_output(second)[-4000:]
    assert f"0 of {DISK_FULL_TRIALS} trials reused, {DISK_FULL_TRIALS} to run" in flat_output(
        second
    )
    assert len(store.load()) == 2 * DISK_FULL_TRIALS
    again = kedro_run(project, "--pipelines", "tuning", *envs[winner])
    reused = f"{DISK_FULL_TRIALS} of {DISK_FULL_TRIALS} trials reused, 0 to run"
    assert again.returncode == 0 and reused in flat_output(again), flat_output(again)[-4000:]

    # Retention counts the envs' data together: keeping one version per fold drops the other
    # env's rows, in one line that says why and how to keep them.
    narrow = kedro_run(
        project,
        "--pipelines",
        "tuning",
        *envs[loser],
        "--params",
        "tuning.store_keep_fingerprints=1",
    )
    output = flat_output(narrow)
    assert narrow.returncode == 0 and reused in output, output[-4000:]
    assert f"dropped {DISK_FULL_TRIALS} of {2 * DISK_FULL_TRIALS} rows" in output
    assert "another --env's data too" in output
    assert len(store.load()) == DISK_FULL_TRIALS
    logger.warning(
        "two envs at once: refused after %.1f s, the other ran %.1f s", walls[loser], walls[winner]
    )
