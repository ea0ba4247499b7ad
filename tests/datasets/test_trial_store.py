"""The trial store: atomic batches, the latest row per trial, compaction, the catalog entry."""

from __future__ import annotations

import pandas as pd
import pytest
from kedro.io import DatasetError

from spark_lgbm_tuning.datasets.trial_store import TrialStore, TrialStoreDataset


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


def test_an_unreadable_batch_is_named_with_the_fix(tmp_path):
    store = TrialStore(tmp_path / "store")
    store.append([{"trial_id": "a", "status": "ok"}])
    damaged = store.path / "batch-20260101T000000000000Z-damaged.parquet"
    damaged.write_bytes(b"not parquet")

    with pytest.raises(DatasetError, match=f"Trial store batch {damaged} is unreadable.*move it"):
        store.load()


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
