"""A scratch copy of the project for tests that run Kedro for real (in-process or `kedro run`).

Only what Kedro reads is copied: conf/ (with an empty local/), pyproject.toml and .telemetry. The
package itself is installed (editable), so src/ is an empty folder: bootstrap_project only checks
that it exists.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from kedro.framework.startup import bootstrap_project

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_LAYERS = (
    "01_raw",
    "02_intermediate",
    "03_primary",
    "04_feature",
    "05_model_input",
    "06_models",
    "07_model_output",
    "08_reporting",
)


def copy_project(destination: Path, *, notebooks: bool = False) -> Path:
    """Copy the project's configuration into `destination` and lay out data/ and src/."""
    shutil.copytree(
        PROJECT_ROOT / "conf", destination / "conf", ignore=shutil.ignore_patterns("local")
    )
    (destination / "conf" / "local").mkdir()
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy(PROJECT_ROOT / name, destination / name)
    if notebooks:
        shutil.copytree(PROJECT_ROOT / "notebooks", destination / "notebooks")
    (destination / "src").mkdir()
    for layer in DATA_LAYERS:
        (destination / "data" / layer).mkdir(parents=True)
    return destination


@contextlib.contextmanager
def bootstrapped(project: Path) -> Iterator[Path]:
    """bootstrap_project(project) for in-process KedroSessions; sys.path and PYTHONPATH restored."""
    saved_path, saved_pythonpath = list(sys.path), os.environ.get("PYTHONPATH")
    bootstrap_project(project)
    try:
        yield project
    finally:
        sys.path[:] = saved_path
        if saved_pythonpath is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved_pythonpath


@contextlib.contextmanager
def scratch_project(destination: Path) -> Iterator[Path]:
    """A bootstrapped copy of the project in `destination`."""
    with bootstrapped(copy_project(destination)) as project:
        yield project
