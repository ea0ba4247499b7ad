"""environment.py: git state and package versions, the one source for the report and tracking."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

from spark_lgbm_tuning.environment import GitState, git_state, package_versions


def _git(repository: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", *arguments], cwd=repository, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_git_state_is_the_commit_and_whether_anything_changed(tmp_path: Path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "a")
    commit = _git(tmp_path, "rev-parse", "HEAD")
    assert git_state(tmp_path) == GitState(commit, dirty=False)
    # An untracked file is a change too: the run used code no commit holds.
    (tmp_path / "b.txt").write_text("new\n")
    assert git_state(tmp_path) == GitState(commit, dirty=True)


def test_outside_a_work_tree_there_is_no_git_state(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert git_state(tmp_path) is None


def test_package_versions_name_the_installed_ones_only():
    versions = package_versions(("lightgbm", "no-such-distribution-here"))
    assert versions == {"lightgbm": metadata.version("lightgbm")}
