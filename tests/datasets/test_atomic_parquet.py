"""AtomicParquetDataset: whole files only, and never a file the project did not write."""

from __future__ import annotations

import subprocess
import sys
import time

import pandas as pd
import pytest
from kedro.io import DatasetError

from spark_lgbm_tuning.datasets.atomic_parquet import AtomicParquetDataset

# Saves two different tables in turn, as fast as it can, until killed.
WRITER_SCRIPT = """
import sys
import pandas as pd
from spark_lgbm_tuning.datasets.atomic_parquet import AtomicParquetDataset

dataset = AtomicParquetDataset(filepath=sys.argv[1])
versions = [pd.DataFrame({"run": [run] * 200_000, "value": range(200_000)}) for run in (1, 2)]
dataset.save(versions[0])
print("ready", flush=True)
while True:
    for frame in versions:
        dataset.save(frame)
"""


def _frame(run: int = 1) -> pd.DataFrame:
    return pd.DataFrame({"trial_id": ["a", "b"], "fold_id": [0, 1], "run": [run, run]})


def test_a_reader_sees_one_whole_version_while_another_process_saves(tmp_path):
    path = tmp_path / "results.parquet"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER_SCRIPT, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "ready"
        seen = set()
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            frame = pd.read_parquet(path)  # pandas.ParquetDataset's in-place write fails here
            assert len(frame) == 200_000 and frame["run"].nunique() == 1
            seen.add(int(frame["run"].iloc[0]))
    finally:
        writer.kill()
        writer.wait()
    assert seen == {1, 2}  # the reads did overlap the writes of both versions


def test_it_replaces_its_own_file_and_leaves_no_temporary_file(tmp_path):
    dataset = AtomicParquetDataset(filepath=str(tmp_path / "results.parquet"))
    dataset.save(_frame(1))
    dataset.save(_frame(2))

    pd.testing.assert_frame_equal(dataset.load(), _frame(2))
    assert [entry.name for entry in tmp_path.iterdir()] == ["results.parquet"]


def test_a_plain_file_it_did_not_write_is_refused_and_kept(tmp_path):
    path = tmp_path / "results.parquet"
    path.write_text("my notes")
    foreign_parquet = tmp_path / "other.parquet"
    other_table = pd.DataFrame({"x": [1.0]})
    other_table.to_parquet(foreign_parquet)  # parquet, but another table

    for target in (path, foreign_parquet):
        with pytest.raises(
            DatasetError, match=f"Refusing to replace {target}: it is a file it did"
        ):
            AtomicParquetDataset(filepath=str(target)).save(_frame())
    assert path.read_text() == "my notes"
    pd.testing.assert_frame_equal(pd.read_parquet(foreign_parquet), other_table)


def test_an_earlier_pandas_write_of_the_same_table_is_replaced(tmp_path):
    path = tmp_path / "trials.parquet"
    _frame(1).to_parquet(path)  # what pandas.ParquetDataset wrote before

    AtomicParquetDataset(filepath=str(path)).save(_frame(2))

    pd.testing.assert_frame_equal(pd.read_parquet(path), _frame(2))


def test_an_earlier_spark_output_directory_is_replaced_and_any_other_directory_refused(tmp_path):
    spark_output = tmp_path / "results.parquet"
    spark_output.mkdir()
    _frame(1).to_parquet(spark_output / "part-00000-1234-c000.snappy.parquet")
    for marker in ("_SUCCESS", "._SUCCESS.crc", ".part-00000-1234-c000.snappy.parquet.crc"):
        (spark_output / marker).write_bytes(b"")
    other = tmp_path / "other.parquet"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")

    AtomicParquetDataset(filepath=str(spark_output)).save(_frame(2))
    with pytest.raises(DatasetError, match="a directory that is not an earlier Spark output"):
        AtomicParquetDataset(filepath=str(other)).save(_frame(2))

    pd.testing.assert_frame_equal(pd.read_parquet(spark_output), _frame(2))
    assert (other / "notes.txt").read_text() == "keep me"


def test_a_file_where_its_folder_should_be_fails_in_one_line_naming_the_os_error(tmp_path):
    (tmp_path / "07_model_output").write_text("a file, not a folder")
    target = tmp_path / "07_model_output" / "results.parquet"

    with pytest.raises(DatasetError) as caught:
        AtomicParquetDataset(filepath=str(target)).save(_frame())

    message = str(caught.value)
    assert f"Cannot write {target}: [Errno 17] File exists" in message
    assert "\n" not in message  # one line: the path and the OS error
    assert (tmp_path / "07_model_output").read_text() == "a file, not a folder"


def test_only_local_paths_are_accepted():
    with pytest.raises(DatasetError, match="writes local files only"):
        AtomicParquetDataset(filepath="memory://results.parquet")
