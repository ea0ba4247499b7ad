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

One search at a time uses a store: `locked()` holds its lock file (see `store_lock`). Compaction
can apply a retention rule: per fold, keep the rows of the `keep_fingerprints` most recently
stored data fingerprints, the current search's always among them.

A damaged batch (a disk error, a manual edit: renames are atomic, so never a write of ours)
costs only the trials in it. Readers skip a batch they cannot read, name it in one warning, and
those trials count as not run, so the search runs them again; the next compaction moves it aside
as `damaged-<name>` (kept for inspection, never read again). Compaction writes bounded batches
(`COMPACTED_BATCH_ROWS` rows each), so even a finished search's store is many recoverable units.

Beside the rows, `outputs-` files hold the test predictions and learning curves of the trials a
search keeps them for (`trial_outputs.py`), written before their batch, so a reader that sees a
trial's row sees its outputs; only `load_outputs` reads them; `compact` keeps the leaders' only.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from kedro.io import AbstractDataset, DatasetError

from spark_lgbm_tuning.datasets.store_lock import StoreUnwritableError, holding
from spark_lgbm_tuning.datasets.store_retention import retained
from spark_lgbm_tuning.datasets.trial_outputs import (
    COMPACTED_OUTPUT_ROWS,
    OUTPUTS_PREFIX,
    STORED_AT,
    latest_outputs,
    outputs_by_trial,
    outputs_table,
)

logger = logging.getLogger(__name__)

BATCH_PREFIX = "batch-"
# A batch that could not be read, moved aside by compaction (not listed, never read again).
DAMAGED_PREFIX = "damaged-"
BATCH_SUFFIX = ".parquet"
# The digest of the fold's data a row was computed on (rows stored before it was kept have none).
# A temporary file older than this belongs to a writer that died (batches take milliseconds).
STALE_TEMP_S = 3600.0
COMPACTION_RETRIES = 5
# Rows per compacted batch: a damaged file costs at most this many trials (~3 KB each on disk).
COMPACTED_BATCH_ROWS = 200


class TrialStore:
    """Append result rows, read back the latest row of each trial, compact the batches."""

    def __init__(self, path: str | Path, batch_rows: int = COMPACTED_BATCH_ROWS) -> None:
        self.path = Path(path)
        self.batch_rows = batch_rows
        # Damaged batches already named in a warning (one warning per file, not per read).
        self._warned: set[Path] = set()

    def __repr__(self) -> str:
        return f"TrialStore({str(self.path)!r})"

    @contextlib.contextmanager
    def locked(self) -> Iterator[TrialStore]:
        """Hold the store's lock for a search; StoreInUseError names a live holder at once.

        Reentrant within a process: a run whose StoreLockHooks took it holds it once more.
        """
        with holding(self.path):
            yield self

    def batch_files(self, prefix: str = BATCH_PREFIX) -> list[Path]:
        """The complete batch (or `OUTPUTS_PREFIX`) files, oldest first (no temporary file)."""
        if not self.path.is_dir():
            return []
        return sorted(
            entry
            for entry in self.path.iterdir()
            if entry.name.startswith(prefix) and entry.name.endswith(BATCH_SUFFIX)
        )

    def append(
        self, rows: Iterable[Mapping[str, Any]], outputs: Iterable[Mapping[str, Any]] = ()
    ) -> Path | None:
        """Write `rows` as one new batch file, atomically, after the `outputs` (trial rows with
        their predictions and curves) as its outputs file; the batch's path (None: no rows).

        StoreUnwritableError names the batch that could not be written and its trial count."""
        records = [dict(row) for row in rows]
        stored_at = datetime.now(UTC)
        name = _file_name(stored_at)
        kept = outputs_table(outputs, stored_at)
        what = (
            f"batch {BATCH_PREFIX}{name} ({len(records)} trial(s))"
            if records
            else f"outputs file {OUTPUTS_PREFIX}{name}"
        )
        try:
            if kept is not None:
                self._write_batch(kept, OUTPUTS_PREFIX + name)
            if not records:
                return None
            for record in records:
                record[STORED_AT] = stored_at
            return self._write_batch(pa.Table.from_pylist(records), BATCH_PREFIX + name)
        except OSError as error:
            raise StoreUnwritableError.of(
                f"Cannot write the trial store {what} to {self.path}", error
            ) from error

    def _write(self, table: pa.Table, name: str) -> Path:
        try:
            return self._write_batch(table, name)
        except OSError as error:
            raise StoreUnwritableError.of(
                f"Cannot write to the trial store {self.path}", error
            ) from error

    def _write_batch(self, table: pa.Table, name: str) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
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

    def _read_all(
        self, prefix: str = BATCH_PREFIX
    ) -> tuple[pa.Table | None, list[Path], list[Path]]:
        """All readable rows of the batches (or outputs files) named `prefix`…, the files they
        came from and the damaged files skipped."""
        # A compaction may remove a listed batch before it is read; its rows are then in the
        # merged batch (written first), so list again. Compactions are rare: a few tries do.
        for _ in range(COMPACTION_RETRIES):
            listed = self._read_listed(prefix)
            if listed is not None:
                break
        else:
            raise DatasetError(
                f"Trial store {self.path}: batches kept disappearing while being read "
                f"({COMPACTION_RETRIES} tries); is something deleting them?"
            )
        tables, read, damaged = listed
        self._warn_damaged(damaged)
        if not tables:
            return None, read, damaged
        # Batches written by other versions may lack a column or hold an all-null one.
        return pa.concat_tables(tables, promote_options="permissive"), read, damaged

    def _read_listed(self, prefix: str) -> tuple[list[pa.Table], list[Path], list[Path]] | None:
        """Every listed batch read: (tables, their paths, damaged paths); None when one was
        removed after the listing."""
        tables, read, damaged = [], [], []
        for path in self.batch_files(prefix):
            try:
                tables.append(pq.read_table(path))
            except (OSError, pa.ArrowException) as error:
                if not path.exists():
                    return None
                # Renames are atomic, so this is damage from outside (disk, a manual edit).
                logger.debug("Trial store batch %s is unreadable: %s", path, error)
                damaged.append(path)
                continue
            read.append(path)
        return tables, read, damaged

    def _warn_damaged(self, damaged: list[Path]) -> None:
        new = [path for path in damaged if path not in self._warned]
        if not new:
            return
        self._warned.update(new)
        logger.warning(
            "Trial store %s: skipped %d unreadable batch file(s) (%s): their trials count as "
            "not run and run again; the search's compaction moves them aside as %s<name>",
            self.path,
            len(new),
            ", ".join(path.name for path in new),
            DAMAGED_PREFIX,
        )

    def load(self, trial_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """The latest stored row of each trial (of `trial_ids` only, when given)."""
        table, _, _ = self._read_all()
        return _latest(table, trial_ids)

    def load_outputs(self, trial_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """trial_id -> the stored outputs of these trials (`trial_outputs.outputs_by_trial`),
        for those the store holds."""
        table, _, _ = self._read_all(OUTPUTS_PREFIX)
        return outputs_by_trial(latest_outputs(table, trial_ids))

    def compact(
        self,
        keep_fingerprints: int | None = None,
        current: Mapping[str, tuple[int, str]] | None = None,
        keep_outputs: Collection[str] | None = None,
    ) -> int:
        """Merge every batch into bounded ones (the latest row per trial, `batch_rows` rows a
        file), the outputs files likewise; returns the files removed. Damaged files are moved
        aside (module docstring). With `keep_fingerprints`, drop the rows of older data (see
        `retained`); `current` maps the current search's trial ids to their (fold_id, fold
        fingerprint), which are kept. Outputs are kept for kept rows, of `keep_outputs` only
        when given. The merged files are in place before the old ones are removed, so an
        interruption leaves duplicates (which readers resolve), never a loss.
        """
        self._remove_stale_temporaries()
        merged, kept_ids = self._compact_rows(keep_fingerprints, current or {})
        if keep_outputs is not None:
            kept_ids &= set(keep_outputs)
        return merged + self._compact_outputs(kept_ids)

    def _compact_rows(
        self, keep_fingerprints: int | None, current: Mapping[str, tuple[int, str]]
    ) -> tuple[int, set[str]]:
        """(batches removed, trial ids kept) of compacting the result batches."""
        table, batches, damaged = self._read_all()
        self._move_aside(damaged)
        if not batches:
            return 0, set()
        latest = _latest(table)
        kept = latest
        if keep_fingerprints is not None:
            kept = retained(latest, keep_fingerprints, current)
        kept_ids = set(kept["trial_id"])
        bounded = len(batches) == math.ceil(len(latest) / self.batch_rows)
        if bounded and len(kept) == len(latest) == table.num_rows:
            return 0, kept_ids  # already compacted: no duplicate, nothing to drop or merge
        if len(kept) < len(latest):
            logger.info(
                "Trial store %s: dropped %d of %d rows, of data other than the %d most recent "
                "fingerprint(s) of each fold (tuning.store_keep_fingerprints): every version of "
                "the data run on this store counts, another --env's data too; to keep them, "
                "raise it or give each env its own tuning_trial_store in conf/<env>/catalog.yml",
                self.path,
                len(latest) - len(kept),
                len(latest),
                keep_fingerprints,
            )
        merged = pa.Table.from_pandas(kept, preserve_index=False)
        self._replace(batches, merged, BATCH_PREFIX, self.batch_rows)
        return len(batches), kept_ids

    def _compact_outputs(self, kept_ids: set[str]) -> int:
        """Outputs files removed in merging them into bounded ones of the `kept_ids` only."""
        table, files, damaged = self._read_all(OUTPUTS_PREFIX)
        self._move_aside(damaged)
        if not files:
            return 0
        kept = latest_outputs(table, kept_ids)
        bounded = len(files) == math.ceil(kept.num_rows / COMPACTED_OUTPUT_ROWS)
        if bounded and kept.num_rows == table.num_rows:
            return 0  # already compacted
        self._replace(files, kept, OUTPUTS_PREFIX, COMPACTED_OUTPUT_ROWS)
        return len(files)

    def _replace(self, old: list[Path], merged: pa.Table, prefix: str, rows: int) -> None:
        """Write `merged` in files of `rows` rows named `prefix`…, then remove the `old` files.

        A write that fails (a full disk) removes the merged files written so far, which only
        repeat the `old` ones, and raises StoreUnwritableError naming the fix: the store is left
        as it was, every trial in its batch, for the rerun to reuse and compact.
        """
        stored_at = datetime.now(UTC)
        written: list[Path] = []
        try:
            for start in range(0, merged.num_rows, rows):
                written.append(
                    self._write_batch(merged.slice(start, rows), prefix + _file_name(stored_at))
                )
        except OSError as error:
            for path in written:
                path.unlink(missing_ok=True)
            raise StoreUnwritableError.of(
                f"Cannot compact the trial store {self.path}",
                error,
                f"nothing was lost: its {len(old)} {prefix}* files are left as they were and the "
                "rerun reuses every stored trial",
            ) from error
        for path in old:
            path.unlink(missing_ok=True)
        self._sync_directory()

    def _move_aside(self, damaged: list[Path]) -> None:
        for path in damaged:
            aside = path.with_name(f"{DAMAGED_PREFIX}{path.name}")
            try:
                os.replace(path, aside)
            except FileNotFoundError:
                continue
            except OSError as error:
                raise StoreUnwritableError.of(
                    f"Cannot move the unreadable trial store batch {path} aside", error
                ) from error
            logger.warning(
                "Trial store %s: moved the unreadable batch %s to %s",
                self.path,
                path.name,
                aside.name,
            )

    def _remove_stale_temporaries(self) -> None:
        now = time.time()
        for entry in self.path.glob(".*.tmp"):
            try:
                if now - entry.stat().st_mtime > STALE_TEMP_S:
                    entry.unlink()
            except FileNotFoundError:
                continue


def _file_name(stored_at: datetime) -> str:
    """A batch's name after its prefix: sortable by time, unique across processes, so files of
    one store never collide."""
    return f"{stored_at:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:12]}{BATCH_SUFFIX}"


def _latest(table: pa.Table | None, trial_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """The latest stored row of each trial of `table` (of `trial_ids` only, when given)."""
    if table is None:
        return pd.DataFrame(columns=["trial_id", STORED_AT])
    rows = table.to_pandas()
    if trial_ids is not None:
        rows = rows[rows["trial_id"].isin(set(trial_ids))]
    rows = rows.sort_values(STORED_AT, kind="stable")
    return rows.drop_duplicates("trial_id", keep="last").reset_index(drop=True)


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
