"""RunEnvironmentDataset: the commit, dirtiness, Kedro env and versions of the running code."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

import pytest
from kedro.io import DatasetError

from spark_lgbm_tuning.datasets.run_environment import RunEnvironmentDataset


def _git(repository: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", *arguments], cwd=repository, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A git repository with one commit."""
    _git(tmp_path, "init", "-q")
    (tmp_path / "README.md").write_text("one\n")
    _git(tmp_path, "add", "README.md")
    _git(
        tmp_path,
        "-c",
        "user.name=test",
        "-c",
        "user.email=test@example.invalid",
        "commit",
        "-qm",
        "one",
    )
    return tmp_path


def test_a_clean_work_tree_reports_its_commit(repository, monkeypatch):
    monkeypatch.setenv("KEDRO_ENV", "cluster")
    loaded = RunEnvironmentDataset(repository=str(repository)).load()
    assert loaded["git_commit"] == _git(repository, "rev-parse", "HEAD")
    assert loaded["git_dirty"] is False
    assert loaded["kedro_env"] == "cluster"
    assert loaded["packages"]["kedro"] == metadata.version("kedro")
    assert loaded["packages"]["lightgbm"] == metadata.version("lightgbm")
    assert loaded["python"].count(".") == 2


def test_uncommitted_changes_are_reported(repository):
    (repository / "README.md").write_text("two\n")
    assert RunEnvironmentDataset(repository=str(repository)).load()["git_dirty"] is True


def test_outside_a_repository_nothing_is_made_up(tmp_path, monkeypatch):
    monkeypatch.delenv("KEDRO_ENV", raising=False)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    dataset = RunEnvironmentDataset(repository=str(tmp_path))
    loaded = dataset.load()
    assert (loaded["git_commit"], loaded["git_dirty"], loaded["kedro_env"]) == (None, None, None)
    # Still an input that exists: the run's missing-input check must not refuse it.
    assert dataset.exists()


def test_it_cannot_be_saved(tmp_path):
    with pytest.raises(DatasetError, match="read-only"):
        RunEnvironmentDataset(repository=str(tmp_path)).save({"git_commit": "x"})
