"""The reporting pipeline: its catalog contract, in-memory runs (classification and regression),
and `kedro viz build` over the whole project."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import lightgbm as lgb
import pytest
from kedro.config import OmegaConfigLoader
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro_datasets.pandas import ParquetDataset
from kedro_datasets.plotly import JSONDataset
from kedro_datasets.text import TextDataset
from kedro_datasets.yaml import YAMLDataset
from plotly.graph_objects import Figure

from spark_lgbm_tuning.pipelines.preparation.folds import summarise_folds
from spark_lgbm_tuning.pipelines.reporting import create_pipeline
from spark_lgbm_tuning.pipelines.reporting.prediction_plots import is_drawn
from spark_lgbm_tuning.pipelines.reporting.report import REPORT_DATASET
from spark_lgbm_tuning.pipelines.tuning.params import RUN_INFO_SEARCH
from tests.cluster import kedro_run
from tests.project_copy import copy_project

from .conftest import COLUMNS, kept_predictions, one_search

SEARCH_FIGURES = (
    "metric_per_fold",
    "param_effects",
    "fit_time_vs_metric",
    "feature_importance",
    "resource_use",
    "learning_curves",
)
FIGURES = (*SEARCH_FIGURES, "roc_curve", "precision_recall", "confusion_matrix", "calibration")
REGRESSION_FIGURES = (*SEARCH_FIGURES, "predicted_vs_actual", "residuals")

VIZ_PIPELINES = ("data_generation", "tuning", "reporting")


def _config(project_root: Path) -> OmegaConfigLoader:
    return OmegaConfigLoader(str(project_root / "conf"), base_env="base", default_run_env="base")


def test_every_reporting_dataset_is_in_the_catalog(project_root):
    """No dataset silently becomes a MemoryDataset by a typo: each has an entry or a factory."""
    catalog = DataCatalog.from_config(_config(project_root)["catalog"])
    datasets = {name for name in create_pipeline().datasets() if not name.startswith("params:")}
    assert sorted(name for name in datasets if name not in catalog) == []


def test_reporting_parameters_are_in_the_config(project_root):
    parameters = _config(project_root)["parameters"]
    assert "reporting" in parameters
    # Column names live once, in params:columns (parameters.yml), not in the reporting block.
    assert parameters["columns"] == COLUMNS.model_dump()
    assert not {"target_column", "feature_prefix", "time_column"} & set(parameters["reporting"])


def _file_backed(datasets: dict, tmp_path: Path) -> dict:
    """Intermediate outputs through their catalog formats, so the next node reads what a real
    run reads (the runner frees in-memory intermediates once consumed)."""
    return {
        **datasets,
        "leaderboard": ParquetDataset(filepath=str(tmp_path / "leaderboard.parquet")),
        "best_params": YAMLDataset(filepath=str(tmp_path / "best_params.yml")),
        "refit_model": TextDataset(filepath=str(tmp_path / "refit_model.txt")),
        "test_predictions": ParquetDataset(filepath=str(tmp_path / "test_predictions.parquet")),
        **{
            f"{name}_figure": JSONDataset(filepath=str(tmp_path / f"{name}.json"))
            for name in {*FIGURES, *REGRESSION_FIGURES}
        },
    }


@pytest.mark.slow
def test_kedro_viz_build_lists_every_node_of_the_three_pipelines(project_root, tmp_path):
    """`kedro viz build` (offline) on a copy of the project shows every registered node."""
    copy_project(tmp_path)
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    kedro = Path(sys.executable).with_name("kedro")
    result = subprocess.run(
        [str(kedro), "viz", "build"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    build = tmp_path / "build" / "api"
    # kedro viz build exits 0 even when it fails, so the output files are the evidence.
    output = result.stdout + result.stderr
    error = output[output.find("ERROR:") :][:1500] if "ERROR:" in output else output[-1500:]
    assert (build / "main").is_file(), f"kedro viz build failed: {error}"

    bootstrap_project(tmp_path)
    missing = [name for name in VIZ_PIPELINES if name not in pipelines]
    assert not missing, f"pipelines not registered yet: {missing}"
    for name in VIZ_PIPELINES:
        registered = {node.name for node in pipelines[name].nodes}
        shown = json.loads((build / "pipelines" / name).read_text())["nodes"]
        assert {node["name"] for node in shown if node["type"] == "task"} == registered, name
    main = json.loads((build / "main").read_text())
    data_nodes = {node["name"]: node for node in main["nodes"] if node["type"] == "data"}
    assert data_nodes["tuning_report"]["layer"] == "reporting"
    assert data_nodes["refit_model"]["layer"] == "models"


def test_pipeline_runs_on_an_in_memory_catalog(
    *,
    results,
    run_info,
    environment,
    model_input,
    model_folds,
    fold_summary,
    tuning_params,
    params,
    tmp_path,
    caplog,
):
    kept, curves = kept_predictions(results, model_input, model_folds, tuning_params)
    run_info, results, kept, curves = one_search(
        {**run_info, RUN_INFO_SEARCH: tuning_params.search_description()}, results, kept, curves
    )
    inputs = {
        "tuning_results@pandas": results,
        "tuning_predictions": kept,
        "tuning_learning_curves": curves,
        "tuning_run_info": run_info,
        "run_environment": environment,
        "model_input@pandas": model_input,
        "model_folds@pandas": model_folds,
        "fold_summary": fold_summary,
        "input_encoding": {"target": "target", "features": [], "classes": None},
        "params:tuning": tuning_params,
        "params:columns": COLUMNS,
        "params:reporting": params,
    }
    pipeline = create_pipeline()
    assert pipeline.inputs() == set(inputs)
    datasets = {name: MemoryDataset(data) for name, data in inputs.items()}
    catalog = DataCatalog(_file_backed(datasets, tmp_path))
    with caplog.at_level(logging.INFO):
        SequentialRunner().run(pipeline, catalog)

    page = catalog.load("tuning_report")
    for name in FIGURES:
        # The report embeds the very figure the catalog holds.
        figure = catalog.load(f"{name}_figure")
        assert isinstance(figure, Figure), name
        assert f'<div id="{name}_figure"' in page, name
    for name in ("predicted_vs_actual", "residuals"):
        # Drawn for a regression only: marked not drawn, and left out of the report.
        assert not is_drawn(catalog.load(f"{name}_figure")), name
        assert f'<div id="{name}_figure"' not in page, name
    assert catalog.load("test_predictions")["fold_id"].unique().tolist() == [0, 1]
    assert "Kedro env" in page and "docker" in page
    assert catalog.load("leaderboard")["combo_id"].tolist() == ["c_b", "c_a", "c_c"]
    assert catalog.load("leaderboard_csv")["combo_id"].tolist() == ["c_b", "c_a", "c_c"]
    assert catalog.load("best_params")["selection"]["combo_id"] == "c_b"
    assert lgb.Booster(model_file=str(tmp_path / "refit_model.txt")).num_trees() == 46
    # The last node says which catalog dataset holds the report.
    assert any(f"'{REPORT_DATASET}'" in record.getMessage() for record in caplog.records)
    assert REPORT_DATASET == "tuning_report"  # hooks.ReportLocationHooks and the catalog use it


@pytest.mark.parametrize("task", ["from_params", "regression"])
def test_regression_pipeline_runs_on_an_in_memory_catalog(
    *,
    task,
    regression_results,
    run_info,
    environment,
    regression_data,
    regression_folds,
    regression_tuning,
    params,
    tmp_path,
):
    """A regression search reported by the pipeline of a user's table (`create_pipeline()`, the
    figures follow `tuning.task`) and by the regression namespace's (`task="regression"`: no
    fold summary, no input encoding): its out-of-fold figures, none of classification's."""
    kept, curves = kept_predictions(
        regression_results, regression_data, regression_folds, regression_tuning
    )
    run_info, results, kept, curves = one_search(
        {**run_info, RUN_INFO_SEARCH: regression_tuning.search_description()},
        regression_results,
        kept,
        curves,
    )
    inputs = {
        "tuning_results@pandas": results,
        "tuning_predictions": kept,
        "tuning_learning_curves": curves,
        "tuning_run_info": run_info,
        "run_environment": environment,
        "model_input@pandas": regression_data,
        "model_folds@pandas": regression_folds,
        "params:tuning": regression_tuning,
        "params:columns": COLUMNS,
        "params:reporting": params,
    }
    if task == "from_params":
        no_time = COLUMNS.model_copy(update={"time": None})
        inputs["fold_summary"] = summarise_folds(regression_data, regression_folds, no_time)
        inputs["input_encoding"] = {"target": "target", "features": [], "classes": None}
    pipeline = create_pipeline(task=task)
    assert pipeline.inputs() == set(inputs)
    datasets = {name: MemoryDataset(data) for name, data in inputs.items()}
    catalog = DataCatalog(_file_backed(datasets, tmp_path))
    outputs = SequentialRunner().run(pipeline, catalog)

    page = outputs[REPORT_DATASET].load()
    assert catalog.load("best_params")["selection"]["combo_id"] == "r_15"
    for name in REGRESSION_FIGURES:
        figure = catalog.load(f"{name}_figure")
        assert isinstance(figure, Figure) and is_drawn(figure), name
        assert f'<div id="{name}_figure"' in page, name
    for name in ("roc_curve", "precision_recall", "confusion_matrix", "calibration"):
        assert f'<div id="{name}_figure"' not in page, name
    assert "Predicted vs actual" in page or "predicted vs actual" in page


@pytest.mark.slow
def test_reporting_with_other_search_parameters_is_refused_in_one_line(tmp_path):
    """As issue 25 met it: after a full run, `--pipelines reporting --params
    "tuning.grid.num_leaves=[7]"` wrote a report whose searched space said 7 while its
    leaderboard ranked 15 and 63."""
    project = copy_project(tmp_path / "project")
    small = "data_generation.n_samples=1500,data_generation.n_features=5"
    first = kedro_run(project, "--params", small)
    assert first.returncode == 0, (first.stdout + first.stderr)[-3000:]
    leaderboard = project / "data" / "08_reporting" / "leaderboard.parquet"
    written = leaderboard.stat().st_mtime_ns

    stale = kedro_run(project, "--pipelines", "reporting", "--params", "tuning.grid.num_leaves=[7]")

    output = stale.stdout + stale.stderr
    assert stale.returncode == 1, output[-3000:]
    error = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(error) == 1, output[-3000:]
    assert "ReportingError: tuning_results come from another search" in error[0]
    assert "grid.num_leaves was [15, 63], now [7]" in error[0]
    assert "run `kedro run --pipelines tuning` with the current parameters first" in error[0]
    assert "Traceback" not in output and "╭─" not in output
    assert leaderboard.stat().st_mtime_ns == written  # nothing rewritten from stale results
