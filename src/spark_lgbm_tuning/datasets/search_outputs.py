"""The outputs of one search, replaced as one set: a failed save leaves the previous set whole.

Kedro saves a node's outputs one after the other. When the disk filled during the saves of
`run_trials`, `tuning_results` and `tuning_run_info` were replaced while `tuning_predictions` kept
its previous version (issue 32). Each dataset here writes its file staged instead, hidden beside
its path (`.<name>.staged-<search id>`) and fsynced; the save that completes the set (every
member staged by this process under one search id) moves all of them into place. A rename needs
no space, so a full disk stops the save before any previous file is touched.

Before the moves, each previous file is kept as a hard link (`.<name>.previous-<search id>`):
a reader still finds a file at every path, and when a move fails (a file made immutable) the
previous files are put back before the error is raised. A failed save removes the staged files
of its search; what a killed run left is removed by the next set moved into place. Nothing reads
a staged file: the catalog's paths are the set's own files.

Each member names the set by its file names, all in the folder of its `filepath`:

    tuning_run_info:
      type: spark_lgbm_tuning.datasets.search_outputs.SearchJSONDataset
      filepath: data/07_model_output/tuning_run_info.json
      search_outputs: [tuning_results.parquet, tuning_run_info.json, ...]
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
import pyarrow.parquet as pq
from kedro.io.core import DatasetError, get_filepath_str
from kedro_datasets.json import JSONDataset

from spark_lgbm_tuning.datasets.atomic_parquet import (
    AtomicParquetDataset,
    OutputNotWrittenError,
    check_replaceable,
)
from spark_lgbm_tuning.vocabulary.errors import file_error_fix, os_reason
from spark_lgbm_tuning.vocabulary.search_id import SEARCH_ID

STAGED = "staged"
PREVIOUS = "previous"

# The members each set has staged in this process, per search id. Kedro's async saving writes
# a node's outputs from several threads: one of them, under the lock, completes the set.
_LOCK = threading.Lock()
_STAGED_MEMBERS: dict[tuple[SearchOutputSet, str], set[str]] = {}


@dataclass(frozen=True)
class SearchOutputSet:
    """The files of one search's outputs: their names, in one folder."""

    folder: Path
    names: tuple[str, ...]

    @classmethod
    def of(cls, target: Path, names: Iterable[str]) -> SearchOutputSet:
        names = tuple(names)
        if target.name not in names or len(set(names)) != len(names):
            raise DatasetError(
                f"search_outputs {list(names)} must name each file of the set once, "
                f"{target.name!r} among them (file names in {target.parent})"
            )
        return cls(target.parent, names)

    def hidden(self, name: str, kind: str, search_id: str) -> Path:
        """Where `name` of the search `search_id` is staged (or its previous version kept)."""
        return self.folder / f".{name}.{kind}-{search_id}"

    def save(self, name: str, search_id: Any, write: Callable[[BinaryIO], None]) -> None:
        """Stage `name` with `write` (which serialises it); move the set into place when it is
        whole. Any failure removes the search's staged files and leaves the previous set."""
        if not isinstance(search_id, str) or not search_id:
            raise OutputNotWrittenError(
                f"Cannot save {self.folder / name}: it carries no {SEARCH_ID}, so it cannot be "
                f"shown to be of one search with {', '.join(self.names)}; run_trials stamps it"
            )
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_durably(self.hidden(name, STAGED, search_id), write)
            with _LOCK:
                staged = _STAGED_MEMBERS.setdefault((self, search_id), set())
                staged.add(name)
                if staged == set(self.names):
                    del _STAGED_MEMBERS[self, search_id]
                    self._move_into_place(search_id)
        except OSError as error:
            self._discard(search_id)
            raise self._not_written(f"Cannot save {self.folder / name}", error) from error
        except BaseException:
            self._discard(search_id)
            raise

    def _move_into_place(self, search_id: str) -> None:
        targets = [self.folder / name for name in self.names]
        kept: dict[Path, Path] = {}
        placed: list[Path] = []
        try:
            for target in targets:
                previous = self.hidden(target.name, PREVIOUS, search_id)
                if target.is_dir():
                    # An earlier Spark output of tuning_results (atomic_parquet.py): no link can
                    # keep a folder, so it is moved aside.
                    target.rename(previous)
                    kept[target] = previous
                elif os.path.lexists(target):
                    os.link(target, previous, follow_symlinks=False)
                    kept[target] = previous
            for target in targets:
                os.replace(self.hidden(target.name, STAGED, search_id), target)
                placed.append(target)
        except OSError as error:
            _put_back(kept, placed)
            raise self._not_written(
                f"Cannot move the search's outputs into place in {self.folder}", error
            ) from error
        except BaseException:
            _put_back(kept, placed)
            raise
        _fsync_folder(self.folder)
        for previous in kept.values():
            _remove(previous)
        self._remove_leftovers()

    def _not_written(self, what: str, error: OSError) -> OutputNotWrittenError:
        return OutputNotWrittenError(
            f"{what}: {os_reason(error)}; the previous {', '.join(self.names)} are left as "
            f"they were; {file_error_fix(error)}"
        )

    def _discard(self, search_id: str) -> None:
        with _LOCK:
            _STAGED_MEMBERS.pop((self, search_id), None)
        for name in self.names:
            # Best effort: the failure being raised matters more; the next set removes it.
            with contextlib.suppress(OSError):
                self.hidden(name, STAGED, search_id).unlink(missing_ok=True)

    def _remove_leftovers(self) -> None:
        """Staged files and kept versions of runs that were killed while saving."""
        for name in self.names:
            for kind in (STAGED, PREVIOUS):
                for leftover in self.folder.glob(f".{name}.{kind}-*"):
                    _remove(leftover)


def _write_durably(path: Path, write: Callable[[BinaryIO], None]) -> None:
    with path.open("wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())


def _put_back(kept: dict[Path, Path], placed: list[Path]) -> None:
    """Undo a move into place that failed part-way: every previous file at its path again."""
    for target in placed:
        if target not in kept:
            target.unlink()
    for target, previous in kept.items():
        if previous.is_dir() and target in placed:
            target.unlink()
        if target in placed or previous.is_dir():
            os.replace(previous, target)
        else:
            previous.unlink()


def _fsync_folder(folder: Path) -> None:
    # The renames reach the disk only with the folder's entries.
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _output_set(
    target: str, protocol: str, versioned: bool, names: Iterable[str]
) -> SearchOutputSet:
    if protocol != "file" or versioned:
        raise DatasetError(
            f"The search's outputs are moved into place as one set (os.replace), so each must be "
            f"an unversioned local file; {target!r} is not"
        )
    return SearchOutputSet.of(Path(target), names)


class SearchParquetDataset(AtomicParquetDataset):
    """One parquet file of a search's outputs, saved as one of its set (module docstring).

    The search id is the DataFrame's `attrs[SEARCH_ID]` (parquet keeps it). Replaces only what
    AtomicParquetDataset would: a file the project wrote or an earlier Spark output.
    """

    def __init__(self, *, filepath: str, search_outputs: list[str], **kwargs: Any) -> None:
        super().__init__(filepath=filepath, **kwargs)
        self._target = Path(get_filepath_str(self._filepath, self._protocol))
        self._set = _output_set(
            str(self._target), self._protocol, self._version is not None, search_outputs
        )

    def save(self, data: pd.DataFrame) -> None:
        def write(handle: BinaryIO) -> None:
            table, save_args = self._table(data)
            check_replaceable(self._target, table.schema.names)
            pq.write_table(table, handle, **save_args)

        self._set.save(self._target.name, data.attrs.get(SEARCH_ID), write)
        self._invalidate_cache()


class SearchJSONDataset(JSONDataset):
    """The JSON file of a search's outputs (`tuning_run_info`), saved as one of its set; the
    search id is its `SEARCH_ID` key. Written as `json.JSONDataset` writes it (indented)."""

    def __init__(self, *, filepath: str, search_outputs: list[str], **kwargs: Any) -> None:
        super().__init__(filepath=filepath, **kwargs)
        self._target = Path(get_filepath_str(self._filepath, self._protocol))
        self._set = _output_set(
            str(self._target), self._protocol, self._version is not None, search_outputs
        )

    def save(self, data: dict[str, Any]) -> None:
        def write(handle: BinaryIO) -> None:
            if self._target.is_dir():
                raise OutputNotWrittenError(
                    f"Refusing to replace {self._target}: it is a directory; move it away (or "
                    "delete it) and rerun"
                )
            handle.write(json.dumps(data, **self._save_args).encode("utf-8"))

        self._set.save(self._target.name, data.get(SEARCH_ID), write)
        self._invalidate_cache()
