"""The notebooks: committed with cleared outputs, loading through the catalog, and executed
headlessly (nbclient, the `python3` kernel of this venv) after a small default `kedro run`.
Also checks the `kedro jupyter` commands, with the kernel written under a temporary
JUPYTER_DATA_DIR so the user's own kernels are left alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests.project_copy import copy_project

PROJECT_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
EXPECTED_NOTEBOOKS = (
    "01_data_and_folds.ipynb",
    "02_tuning_results.ipynb",
    "03_debug_one_trial.ipynb",
)
# Small enough for CI (the run takes ~20 s on 2 cores): 4000 rows x 8 features, 4 folds and a
# 2-combination grid (learning_rate keeps its two values) = 8 trials.
N_SAMPLES = 4000
N_FOLDS = 4
N_COMBINATIONS = 2
SMALL_RUN_PARAMS = (
    f"data_generation.n_samples={N_SAMPLES},data_generation.n_features=8,"
    "tuning.grid.num_leaves=[15],tuning.grid.min_child_samples=[20],tuning.num_boost_round=60"
)
KEDRO = str(Path(sys.executable).with_name("kedro"))
CELL_TIMEOUT_S = 300

# Appended to each executed copy (never to the committed file): reads the notebook's own
# variables and reports them as JSON, so the test checks what the notebook computed.
PROBE = """
import sys as _sys
from IPython.display import display as _display
_display({{"application/json": {{"python": _sys.executable, **({values})}}}}, raw=True)
"""
PROBES = {
    "01_data_and_folds.ipynb": """{
        "rows": len(data),
        "folds": int(folds["fold_id"].nunique()),
        "spark_rows": int(monthly["rows"].sum()),
        "checked_folds": int(spans["test_after_train"].sum()),
    }""",
    "02_tuning_results.ipynb": """{
        "leaderboard_rows": len(leaderboard),
        "leaderboard_top": str(leaderboard.loc[0, "combo_id"]),
        "best_combo": best_params["selection"]["combo_id"],
        "results_rows": len(results),
        "trial_peak_rss_mb": float(trial["peak_rss_mb"]),
    }""",
    "03_debug_one_trial.ipynb": """{
        "status": driver_row["status"],
        "compared": list(comparison.index),
        "executor": [float(value) for value in comparison["executor"]],
        "driver": [float(value) for value in comparison["driver"]],
        "broken_status": failed_row["status"],
        "broken_error": failed_row["error"],
    }""",
}


def _env() -> dict[str, str]:
    return {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}


def _execute(notebook_path: Path, probe: str | None = None) -> nbformat.NotebookNode:
    """Run every cell in the notebook's folder on the venv's `python3` kernel; raise on an error."""
    notebook = nbformat.read(notebook_path, as_version=4)
    if probe is not None:
        notebook.cells.append(nbformat.v4.new_code_cell(PROBE.format(values=probe)))
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(notebook_path.parent)}},
    )
    client.execute()
    return notebook


def _probe_result(notebook: nbformat.NotebookNode) -> dict[str, Any]:
    outputs = notebook.cells[-1].outputs
    found = [output["data"]["application/json"] for output in outputs if "data" in output]
    assert found, f"the probe cell produced no JSON: {outputs}"
    return found[0]


def _images(notebook: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )


# ------------------------------------------------------------------------- committed notebooks
def test_the_three_notebooks_exist():
    present = sorted(path.name for path in NOTEBOOKS_DIR.glob("*.ipynb"))
    assert [name for name in EXPECTED_NOTEBOOKS if name not in present] == []


@pytest.mark.parametrize("name", EXPECTED_NOTEBOOKS)
def test_committed_notebook_is_clean_and_loads_through_the_catalog(name):
    """Outputs cleared, the venv's python3 kernel, the Kedro extension first, no data paths."""
    notebook = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.source for cell in code if cell.outputs or cell.execution_count] == []
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert code[0].source.strip() == "%load_ext kedro.ipython"
    sources = "\n".join(cell.source for cell in code)
    assert "catalog.load(" in sources
    for hard_coded in ("data/0", ".parquet", "/work/", "read_parquet", "read_csv"):
        assert hard_coded not in sources, f"{name} reads {hard_coded!r} instead of the catalog"
    assert [cell.cell_type for cell in notebook.cells][0] == "markdown", "explain what and why"


# ------------------------------------------------------------------------------ kedro jupyter
@pytest.mark.slow
def test_kedro_jupyter_setup_installs_the_project_kernel(tmp_path):
    """The kernel runs this venv's Python and loads the project with `--ext kedro.ipython`."""
    result = subprocess.run(
        [KEDRO, "jupyter", "setup"],
        cwd=PROJECT_ROOT,
        env={**_env(), "JUPYTER_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    spec = json.loads(
        (tmp_path / "kernels" / "kedro_spark_lgbm_tuning" / "kernel.json").read_text()
    )
    assert spec["display_name"] == "Kedro (spark_lgbm_tuning)"
    assert spec["argv"][-2:] == ["--ext", "kedro.ipython"]
    assert Path(spec["argv"][0]).parent == Path(sys.executable).parent


@pytest.mark.slow
def test_kedro_jupyter_lab_help_starts_no_server(tmp_path):
    """`--help` is forwarded to `jupyter lab` with the project kernel as the default."""
    result = subprocess.run(
        [KEDRO, "jupyter", "lab", "--help"],
        cwd=PROJECT_ROOT,
        env={**_env(), "JUPYTER_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "JupyterLab" in output
    assert "--MultiKernelManager.default_kernel_name=kedro_spark_lgbm_tuning" in output


# ------------------------------------------------------------------------- executed notebooks
@pytest.fixture(scope="module")
def executed_project(tmp_path_factory) -> Path:
    """A copy of the project after a small default `kedro run` (data_generation, tuning, reporting)."""
    project = copy_project(tmp_path_factory.mktemp("notebook_project"), notebooks=True)
    result = subprocess.run(
        [KEDRO, "run", "--params", SMALL_RUN_PARAMS],
        cwd=project,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return project


@pytest.mark.slow
def test_data_notebook_reads_the_run_data(executed_project):
    notebook = _execute(
        executed_project / "notebooks" / "01_data_and_folds.ipynb",
        PROBES["01_data_and_folds.ipynb"],
    )
    probe = _probe_result(notebook)
    assert Path(probe["python"]).parent == Path(sys.executable).parent
    # n_samples came from --params: the notebook found this copy's project, not the checkout.
    assert probe["rows"] == N_SAMPLES
    assert probe["spark_rows"] == N_SAMPLES
    assert probe["folds"] == probe["checked_folds"] == N_FOLDS
    # Its own class-balance plot and the pipeline's three saved figures.
    assert _images(notebook) >= 4


@pytest.mark.slow
def test_results_notebook_shows_the_leaderboard_and_a_trial(executed_project):
    notebook = _execute(
        executed_project / "notebooks" / "02_tuning_results.ipynb",
        PROBES["02_tuning_results.ipynb"],
    )
    probe = _probe_result(notebook)
    saved = pd.read_parquet(executed_project / "data" / "08_reporting" / "leaderboard.parquet")
    assert probe["leaderboard_rows"] == len(saved) == N_COMBINATIONS
    assert probe["leaderboard_top"] == probe["best_combo"] == saved.loc[0, "combo_id"]
    assert probe["results_rows"] == N_COMBINATIONS * N_FOLDS
    assert probe["trial_peak_rss_mb"] > 0
    assert _images(notebook) >= 2


@pytest.mark.slow
def test_debug_notebook_reproduces_the_executor_trial_on_the_driver(executed_project):
    notebook = _execute(
        executed_project / "notebooks" / "03_debug_one_trial.ipynb",
        PROBES["03_debug_one_trial.ipynb"],
    )
    probe = _probe_result(notebook)
    assert probe["status"] == "ok"
    assert {"best_iteration", "auc_roc", "logloss"} <= set(probe["compared"])
    assert probe["driver"] == pytest.approx(probe["executor"], rel=1e-6)
    assert probe["broken_status"] == "failed"
    assert "num_leaves" in probe["broken_error"]


@pytest.mark.slow
def test_results_notebook_fails_on_a_project_that_has_not_run(tmp_path):
    """Before any `kedro run` the first catalog.load fails the cell, and the test sees it."""
    project = copy_project(tmp_path, notebooks=True)
    with pytest.raises(CellExecutionError) as raised:
        _execute(project / "notebooks" / "02_tuning_results.ipynb")
    # The first dataset the notebook loads, named in the error the reader sees.
    assert raised.value.ename == "DatasetError"
    assert "tuning_results@pandas" in raised.value.evalue
