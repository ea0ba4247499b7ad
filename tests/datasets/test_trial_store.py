"""The trial store: atomic batches, the latest row per trial, compaction, the catalog entry."""

from __future__ import annotations

import logging
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from kedro.io import DatasetError

from spark_lgbm_tuning.datasets.store_lock import StoreUnwritableError
from spark_lgbm_tuning.datasets.trial_outputs import COMPACTED_OUTPUT_ROWS, OUTPUTS_PREFIX
from spark_lgbm_tuning.datasets.trial_store import (
    BATCH_PREFIX,
    DAMAGED_PREFIX,
    FOLD_FINGERPRINT,
    TrialStore,
    TrialStoreDataset,
)
from spark_lgbm_tuning.executor.trial_spec import LEARNING_CURVE, TEST_PREDICTIONS


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
