"""The durable record of finished trials: a directory of small parquet batch files.

`run_trials` appends each result as it reaches the driver, so a run that is interrupted, or whose
driver dies, keeps every finished trial; the next run reads them back by `trial_id` and runs only
the rest. This is the one place a node writes while it runs: the catalog saves a node's outputs
only after it returns, which for an hours-long search is too late. The node never sees a path:
`TrialStoreDataset` (the catalog entry `tuning_trial_store`) hands it a `TrialStore`.

Each batch is written to a hidden temporary name, flushed to disk and renamed into place
(`os.replace` is atomic on POSIX), so a reader sees a whole batch or none of it. A trial may be in
several batches (a rerun with `resume: false`, a compaction interrupted before it removed the
batches it merged): readers keep the row stored last.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from kedro.io import AbstractDataset, DatasetError

logger = logging.getLogger(__name__)

BATCH_PREFIX = "batch-"
BATCH_SUFFIX = ".parquet"
STORED_AT = "stored_at"
# A temporary file older than this belongs to a writer that died (batches take milliseconds).
STALE_TEMP_S = 3600.0


class TrialStore:
    """Append result rows, read back the latest row of each trial, compact the batches."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"TrialStore({str(self.path)!r})"

    def batch_files(self) -> list[Path]:
        """The complete batch files, oldest first (temporary files are never listed)."""
        if not self.path.is_dir():
            return []
        return sorted(
            entry
            for entry in self.path.iterdir()
            if entry.name.startswith(BATCH_PREFIX) and entry.name.endswith(BATCH_SUFFIX)
        )

    def append(self, rows: Iterable[Mapping[str, Any]]) -> Path | None:
        """Write `rows` as one new batch file, atomically; returns its path (None if no rows)."""
        records = [dict(row) for row in rows]
        if not records:
            return None
        stored_at = datetime.now(UTC)
        for record in records:
            record[STORED_AT] = stored_at
        return self._write(pa.Table.from_pylist(records), stored_at)

    def _write(self, table: pa.Table, stored_at: datetime) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        # Sortable by time, unique across processes: batches of one store never collide.
        name = f"{BATCH_PREFIX}{stored_at:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:12]}{BATCH_SUFFIX}"
        final = self.path / name
        temporary = self.path / f".{name}.tmp"
        try:
            with temporary.open("wb") as handle:
                pq.write_table(table, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, final)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        self._sync_directory()
        return final

    def _sync_directory(self) -> None:
        # The rename itself reaches the disk only with the directory entry.
        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def _read_all(self) -> pa.Table | None:
        tables = []
        for path in self.batch_files():
            try:
                tables.append(pq.read_table(path))
            except (OSError, pa.ArrowException) as error:
                # Renames are atomic, so this is damage from outside (disk, a manual edit).
                raise DatasetError(
                    f"Trial store batch {path} is unreadable ({error}); move it away and rerun: "
                    "its trials will run again"
                ) from error
        if not tables:
            return None
        # Batches written by other versions may lack a column or hold an all-null one.
        return pa.concat_tables(tables, promote_options="permissive")

    def load(self, trial_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """The latest stored row of each trial (of `trial_ids` only, when given)."""
        table = self._read_all()
        if table is None:
            return pd.DataFrame(columns=["trial_id", STORED_AT])
        rows = table.to_pandas()
        if trial_ids is not None:
            rows = rows[rows["trial_id"].isin(set(trial_ids))]
        rows = rows.sort_values(STORED_AT, kind="stable")
        return rows.drop_duplicates("trial_id", keep="last").reset_index(drop=True)

    def compact(self) -> int:
        """Merge every batch into one (the latest row per trial); returns the batches removed.

        The merged batch is in place before the old ones are removed, so an interruption leaves
        duplicates (which readers resolve), never a loss.
        """
        batches = self.batch_files()
        self._remove_stale_temporaries()
        if len(batches) <= 1:
            return 0
        latest = self.load()
        table = pa.Table.from_pandas(latest, preserve_index=False)
        self._write(table, datetime.now(UTC))
        for path in batches:
            path.unlink(missing_ok=True)
        self._sync_directory()
        return len(batches)

    def _remove_stale_temporaries(self) -> None:
        now = time.time()
        for entry in self.path.glob(".*.tmp"):
            try:
                if now - entry.stat().st_mtime > STALE_TEMP_S:
                    entry.unlink()
            except FileNotFoundError:
                continue


class TrialStoreDataset(AbstractDataset[Any, TrialStore]):
    """Catalog entry whose load() returns the `TrialStore` at `path` (created on first append).

    Example catalog.yml entry:

        tuning_trial_store:
          type: spark_lgbm_tuning.datasets.trial_store.TrialStoreDataset
          path: data/07_model_output/tuning_trial_store
    """

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = PurePosixPath(path)
        self.metadata = metadata

    def load(self) -> TrialStore:
        return TrialStore(Path(str(self._path)))

    def save(self, data: Any) -> None:
        raise DatasetError(
            "tuning_trial_store is read-only in the catalog: run_trials appends to the "
            "TrialStore that load() returns"
        )

    def _exists(self) -> bool:
        # An empty store is a valid input: the first run finds nothing to reuse.
        return True

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
