"""ruff (configured in pyproject.toml) keeps the tree clean: CI and the fast tier both run this."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=" ".join)
def test_ruff_finds_nothing(project_root: Path, command: list[str]):
    # `python -m ruff`: the ruff of this venv (the test extra), whatever is on PATH.
    run = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "."],
        cwd=project_root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, f"ruff {' '.join(command)}:\n{run.stdout}{run.stderr}"
