"""settings.py as a user meets it: what `kedro run` prints before the pipeline starts."""

from __future__ import annotations

import pytest

from tests.cluster import kedro_run
from tests.project_copy import copy_project


@pytest.mark.slow
def test_kedro_run_prints_no_omegaconf_deprecation(tmp_path, monkeypatch):
    """Kedro 1.7's config loader calls OmegaConf's deprecated register_new_resolver(); unfiltered,
    each start prints its UserWarning several times (~36 lines)."""
    monkeypatch.delenv("PYTHONWARNINGS", raising=False)
    project = copy_project(tmp_path / "project")
    run = kedro_run(
        project,
        "--pipelines",
        "data_generation",
        "--params",
        "data_generation.n_samples=300,data_generation.n_features=4",
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "register_new_resolver" not in output
    assert "UserWarning" not in output
