"""A pandas parquet file replaced atomically: a reader sees the old file or the new one.

kedro-datasets' `pandas.ParquetDataset` writes in place, so a reader (reporting, a notebook) that
opens the file while a run saves it reads half a file, and a Spark parquet write replaces a
directory of part files (two runs at once leave both runs' parts). `AtomicParquetDataset` writes
to a hidden temporary file in the same directory, fsyncs it and `os.replace`s it onto the path.

It replaces only what the project wrote there: a file carrying `WRITER_KEY` in its parquet
footer, a parquet file with exactly the columns being saved (what `pandas.ParquetDataset` wrote
before this dataset), or a directory of Spark part files and markers only (what
`tuning_results@spark` used to write). Anything else (notes, another table, a symbolic link) is
refused with one line naming the path, never deleted.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from kedro.io.core import DatasetError, get_filepath_str
from kedro_datasets.pandas import ParquetDataset

from spark_lgbm_tuning.vocabulary.errors import ExplainedError, file_error_fix, os_reason

WRITER_KEY = b"spark_lgbm_tuning.writer"
WRITER = b"AtomicParquetDataset"
# What a Spark parquet write leaves in its output directory (with the hidden .crc files).
_SPARK_OUTPUT_PREFIXES = ("part-", "_SUCCESS", "_committed_", "_started_", ".part-", "._SUCCESS")


class OutputNotWrittenError(ExplainedError, DatasetError):
    """The file cannot be written, or what is at its path is not the project's to replace."""


class AtomicParquetDataset(ParquetDataset):
    """`pandas.ParquetDataset` on the local file system, saved atomically (see module docstring).

    `save_args` go to `pyarrow.parquet.write_table` (`index: true` keeps the DataFrame's index).

    Example catalog.yml entry:

        tuning_results@pandas:
          type: spark_lgbm_tuning.datasets.atomic_parquet.AtomicParquetDataset
          filepath: data/07_model_output/tuning_results.parquet
    """

    def __init__(self, *, filepath: str, **kwargs: Any) -> None:
        super().__init__(filepath=filepath, **kwargs)
        if self._protocol != "file":
            raise DatasetError(
                f"AtomicParquetDataset writes local files only (os.replace); {filepath!r} is "
                f"on {self._protocol!r}: use pandas.ParquetDataset there"
            )

    def save(self, data: pd.DataFrame) -> None:
        target = Path(get_filepath_str(self._get_save_path(), self._protocol))
        table, save_args = self._table(data)
        earlier_spark_output = check_replaceable(target, table.schema.names)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(target, table, save_args, earlier_spark_output)
        except OSError as error:
            raise OutputNotWrittenError(
                f"Cannot write {target}: {os_reason(error)}; {file_error_fix(error)}"
            ) from error
        self._invalidate_cache()

    def _table(self, data: pd.DataFrame) -> tuple[pa.Table, dict[str, Any]]:
        """`data` as the Arrow table this dataset writes (stamped WRITER), and the write's args."""
        save_args = dict(self._save_args)
        table = pa.Table.from_pandas(data, preserve_index=save_args.pop("index", None))
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), WRITER_KEY: WRITER})
        return table, save_args


def write_atomically(
    target: Path, table: pa.Table, save_args: dict[str, Any], replace_directory: bool = False
) -> None:
    """Write `table` to a temporary file next to `target`, fsync it, rename it onto `target`.

    `replace_directory`: `target` is an earlier Spark output directory, removed just before the
    rename (os.replace cannot put a file over a directory): the one moment a reader finds nothing.
    """
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with temporary.open("wb") as handle:
            pq.write_table(table, handle, **save_args)
            handle.flush()
            os.fsync(handle.fileno())
        if replace_directory:
            shutil.rmtree(target)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    # The rename reaches the disk only with the directory entry.
    descriptor = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def check_replaceable(target: Path, columns: list[str]) -> bool:
    """Refuse a `target` this dataset did not write; True when it is an earlier Spark output."""
    if not os.path.lexists(target):
        return False
    if target.is_symlink():
        reason = "a symbolic link"
    elif target.is_dir():
        if _is_spark_output(target):
            return True
        reason = "a directory that is not an earlier Spark output of it"
    elif target.is_file() and _written_here(target, columns):
        return False
    else:
        reason = "a file it did not write"
    raise OutputNotWrittenError(
        f"Refusing to replace {target}: it is {reason}; move it away (or delete it) and rerun"
    )


def _is_spark_output(directory: Path) -> bool:
    entries = list(directory.iterdir())
    return bool(entries) and all(
        entry.is_file() and entry.name.startswith(_SPARK_OUTPUT_PREFIXES) for entry in entries
    )


def _written_here(path: Path, columns: list[str]) -> bool:
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException):
        return False
    return (schema.metadata or {}).get(WRITER_KEY) == WRITER or schema.names == columns
