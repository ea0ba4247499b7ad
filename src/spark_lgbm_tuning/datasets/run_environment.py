"""`run_environment`: the facts of the code a run used, read when the dataset is loaded.

The git commit (and whether the work tree had uncommitted changes), the Python and package
versions, and the Kedro env (set by `hooks.RunEnvironmentHooks` from the run's context; else
`KEDRO_ENV` when it names one). A read-only dataset so that the report
node stays pure: the catalog does the looking up, the node only formats what it is given.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from spark_lgbm_tuning.environment import git_state, package_versions, python_version


class RunEnvironmentDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """Loads {git_commit, git_dirty, kedro_env, python, packages}; cannot be saved."""

    def __init__(self, repository: str = ".", metadata: dict[str, Any] | None = None) -> None:
        self._repository = Path(repository)
        self.metadata = metadata
        # The run's Kedro env, handed over by hooks.RunEnvironmentHooks.
        self.kedro_env: str | None = None

    def load(self) -> dict[str, Any]:
        git = git_state(self._repository)
        return {
            "git_commit": git.commit if git else None,
            "git_dirty": git.dirty if git else None,
            "kedro_env": self.kedro_env or os.environ.get("KEDRO_ENV"),
            "python": python_version(),
            "packages": package_versions(),
        }

    def save(self, data: dict[str, Any]) -> None:
        raise DatasetError("run_environment is read-only: it describes the running code.")

    def _exists(self) -> bool:
        # Always loadable: outside a git work tree the commit is None, not an error.
        return True

    def _describe(self) -> dict[str, Any]:
        return {"repository": str(self._repository)}
