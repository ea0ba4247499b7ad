"""errors: every explained error is shown as one line by cli.py and still caught as before."""

from __future__ import annotations

import errno
import os

import pytest
from kedro.io import DatasetError

from spark_lgbm_tuning.cli import EXPLAINED_ERRORS
from spark_lgbm_tuning.pipelines.reporting.results import ReportingError
from spark_lgbm_tuning.run_inputs import MissingInputError
from spark_lgbm_tuning.vocabulary.errors import (
    ConfigError,
    ExplainedError,
    InputDataError,
    ProjectFileError,
    SparkConfigError,
    explained,
    file_error_fix,
    file_in_the_way,
)


@pytest.mark.parametrize(
    ("error_type", "caught_as"),
    [
        # Callers and tests catch these by the built-in type they had before ExplainedError.
        (SparkConfigError, RuntimeError),
        (MissingInputError, RuntimeError),
        (InputDataError, ValueError),
        (ReportingError, ValueError),
        (ConfigError, ValueError),
        (ProjectFileError, RuntimeError),
    ],
)
def test_an_explained_error_is_shown_as_one_line_and_caught_as_before(error_type, caught_as):
    with pytest.raises(caught_as) as raised:
        raise error_type("what is wrong: the fix")

    assert isinstance(raised.value, EXPLAINED_ERRORS)
    assert isinstance(raised.value, ExplainedError)
    assert str(raised.value) == "what is wrong: the fix"


def _os_error(action) -> OSError:
    with pytest.raises(OSError) as raised:
        action()
    return raised.value


def test_a_file_error_wrapped_by_kedro_is_one_line_naming_the_dataset_path_and_fix(tmp_path):
    folder = tmp_path / "08_reporting"
    folder.write_text("a file in the way")
    target = folder / "report.html"
    error = _os_error(lambda: target.write_text("x"))  # a real NotADirectoryError
    try:
        try:
            raise DatasetError("Failed while saving data to dataset TextDataset(...)") from error
        except DatasetError as dataset_error:
            raise DatasetError(f"tuning_report: {dataset_error}") from dataset_error
    except DatasetError as wrapped:
        explanation = explained(wrapped)

    assert isinstance(explanation, ProjectFileError)
    assert str(explanation) == (
        f"Cannot save 'tuning_report' to {target}: [Errno 20] Not a directory; {folder} is a "
        "file where a folder should be: move it away (or delete it) and rerun"
    )


def test_an_explained_error_inside_a_dataset_error_is_found_as_it_is():
    try:
        try:
            raise InputDataError("what is wrong: the fix")
        except InputDataError as inner:
            raise DatasetError("x: Failed while loading data from dataset") from inner
    except DatasetError as wrapped:
        assert str(explained(wrapped)) == "what is wrong: the fix"
    assert explained(ValueError("no file involved")) is None


@pytest.mark.parametrize(
    ("code", "fix"),
    [
        (errno.EACCES, "chattr -i"),
        (errno.EROFS, "read-only"),
        (errno.ENOSPC, "full"),
        (errno.EISDIR, "a folder stands where the file should be"),
        (errno.EIO, "check the path"),
    ],
)
def test_the_fix_follows_the_os_error(tmp_path, code, fix):
    assert fix in file_error_fix(OSError(code, os.strerror(code), str(tmp_path / "out.csv")))


def test_a_file_where_the_folder_should_be_is_found_above_the_path(tmp_path):
    (tmp_path / "data").write_text("")
    error = _os_error(lambda: (tmp_path / "data" / "08_reporting").mkdir(parents=True))

    assert file_in_the_way(tmp_path / "data" / "08_reporting" / "x.csv") == tmp_path / "data"
    assert file_in_the_way(tmp_path / "elsewhere" / "x.csv") is None
    assert file_error_fix(error).startswith(f"{tmp_path / 'data'} is a file where a folder")


def test_an_immutable_folder_or_file_is_named_with_the_chattr_that_clears_it(
    tmp_path, make_immutable
):
    # Before: "if `lsattr -d FOLDER` shows `i` … `chattr -i FOLDER`" for an immutable file too.
    folder = tmp_path / "store"
    folder.mkdir()
    batch = folder / "batch-1.parquet"
    batch.write_bytes(b"rows")
    make_immutable(batch)
    fix = file_error_fix(_os_error(batch.unlink))
    assert f"{batch} is immutable (`lsattr -d` shows `i`)" in fix
    assert f"`chattr -i {batch}` (as root)" in fix and f"{folder} is" not in fix

    make_immutable(folder)
    fix = file_error_fix(_os_error((folder / ".batch-2.parquet.tmp").touch))
    assert fix == (
        f"{folder} is immutable (`lsattr -d` shows `i`), which refuses writes, root's too: run "
        f"`chattr -i {folder}` (as root), then rerun"
    )
