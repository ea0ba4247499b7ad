"""`run_environment`: the facts of the code a run used, read when the dataset is loaded.

The git commit (and whether the work tree had uncommitted changes), the Python and package
versions, and the Kedro env when `KEDRO_ENV` names it. A read-only dataset so that the report
node stays pure: the catalog does the looking up, the node only formats what it is given.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

#: The distributions whose versions decide what a search computes and how it is reported.
PACKAGES = (
    "spark-lgbm-tuning",
    "kedro",
    "kedro-datasets",
    "pyspark",
    "lightgbm",
    "scikit-learn",
    "numpy",
    "pandas",
    "pyarrow",
    "plotly",
    "optuna",
    "mlflow",
)


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


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """name -> installed version, for the installed ones among `names`."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


class RunEnvironmentDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """Loads {git_commit, git_dirty, kedro_env, python, packages}; cannot be saved."""

    def __init__(self, repository: str = ".", metadata: dict[str, Any] | None = None) -> None:
        self._repository = Path(repository)
        self.metadata = metadata

    def load(self) -> dict[str, Any]:
        commit = _git(self._repository, "rev-parse", "HEAD")
        status = _git(self._repository, "status", "--porcelain") if commit else None
        return {
            "git_commit": commit,
            "git_dirty": None if status is None else bool(status),
            "kedro_env": os.environ.get("KEDRO_ENV"),
            "python": platform.python_version(),
            "packages": package_versions(),
        }

    def save(self, data: dict[str, Any]) -> None:
        raise DatasetError("run_environment is read-only: it describes the running code.")

    def _exists(self) -> bool:
        # Always loadable: outside a git work tree the commit is None, not an error.
        return True

    def _describe(self) -> dict[str, Any]:
        return {"repository": str(self._repository)}
