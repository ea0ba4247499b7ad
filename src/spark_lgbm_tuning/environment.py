"""The facts of the running code that make a run reproducible: git commit and state, versions.

One place for both readers: the report's `run_environment` dataset and the MLflow tags of a
tracked run (tracking/hooks.py).
"""

from __future__ import annotations

import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

#: The distributions whose versions decide what a search computes, reports and tracks.
PACKAGES = (
    "spark-lgbm-tuning",
    "kedro",
    "kedro-datasets",
    "kedro-mlflow",
    "mlflow",
    "pyspark",
    "lightgbm",
    "scikit-learn",
    "numpy",
    "pandas",
    "pyarrow",
    "pydantic",
    "plotly",
    "optuna",
)


@dataclass(frozen=True)
class GitState:
    """The commit a work tree is at, and whether it has changes (untracked files included)."""

    commit: str
    dirty: bool


def _git(repository: Path, *arguments: str) -> str | None:
    """`git <arguments>` in `repository`, stripped; None without git or outside a repository."""
    try:
        result = subprocess.run(
            ["git", *arguments],  # noqa: S607 - git from PATH, as Kedro's own session does
            cwd=repository,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def git_state(repository: Path) -> GitState | None:
    """The git state of `repository`; None outside a git work tree (nothing is made up)."""
    commit = _git(repository, "rev-parse", "HEAD")
    if not commit:
        return None
    status = _git(repository, "status", "--porcelain")
    return GitState(commit, bool(status))


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """name -> installed version, for the installed ones among `names`."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def python_version() -> str:
    return platform.python_version()
