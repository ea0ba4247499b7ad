"""The data_generation pipeline: its catalog contract, sliced in-memory runs (alone, and with
preparation mapped onto its synthetic table as `__default__` maps it), and KedroSession runs in a
scratch copy of the project (one that succeeds, and bad inputs that stop it early)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from kedro.config import OmegaConfigLoader
from kedro.framework.project import configure_project
from kedro.framework.session import KedroSession
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner
from kedro.validation.exceptions import ParameterValidationError
from kedro_datasets.pandas import CSVDataset, ParquetDataset

from spark_lgbm_tuning.pipeline_registry import register_pipelines
from spark_lgbm_tuning.pipelines.data_generation import create_pipeline
from spark_lgbm_tuning.pipelines.data_generation.nodes import generate_timeseries
from spark_lgbm_tuning.pipelines.preparation.folds import FoldParams
from spark_lgbm_tuning.pipelines.preparation.nodes import PreparationParams
from spark_lgbm_tuning.vocabulary.errors import InputDataError

from .conftest import COLUMNS, RENAMED, merged

NODE_NAMES = {
    "generate_timeseries",
    "generate_regression",
    "make_regression_folds",
    "plot_sample_features",
}
#: preparation's nodes, mapped onto the synthetic table (data_generation/pipeline.py).
PREPARATION_NODES = {
    "prepare_input",
    "make_folds",
    "summarise_folds",
    "plot_folds_timeline",
    "plot_fold_class_balance",
}
OUTPUTS = {
    "timeseries_data@pandas": "data/01_raw/timeseries_classification.parquet",
    "regression_data@pandas": "data/01_raw/regression.parquet",
    "regression_folds@pandas": "data/05_model_input/regression_folds.parquet",
}
PLOTS = ("sample_features",)
#: What preparation writes from the synthetic table, in data_generation.
PREPARED = {
    "model_input@pandas": "data/05_model_input/model_input.parquet",
    "model_folds@pandas": "data/05_model_input/model_folds.parquet",
    "fold_summary": "data/08_reporting/fold_summary.csv",
}
PREPARED_PLOTS = ("folds_timeline", "fold_class_balance")
#: The last nodes of data_generation and of the preparation mapped onto its table.
SYNTHETIC_ENDS = [
    "make_regression_folds",
    "plot_sample_features",
    "plot_folds_timeline",
    "plot_fold_class_balance",
]


def _synthetic() -> Pipeline:
    """`__default__` up to the folds: data_generation and preparation on its table, as registered."""
    configure_project("spark_lgbm_tuning")
    registered = register_pipelines()
    return registered["__default__"] - registered["tuning"] - registered["reporting"]


def _preparation_params(n_splits: int) -> dict[str, MemoryDataset]:
    """The parameters preparation reads, as in-memory catalog entries."""
    return {
        "params:preparation": MemoryDataset(
            PreparationParams(folds=FoldParams(n_splits=n_splits)), copy_mode="assign"
        ),
        "params:tuning.task": MemoryDataset("classification"),
    }


def _files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


def test_node_names_are_the_expected_verbs():
    names = [node.name for node in create_pipeline().nodes]
    assert set(names) == NODE_NAMES | PREPARATION_NODES
    assert len(names) == len(set(names))


def test_every_dataset_resolves_to_a_catalog_entry(project_root: Path):
    """No dataset of the pipeline falls back to a silent MemoryDataset."""
    conf = OmegaConfigLoader(str(project_root / "conf"), base_env="base", default_run_env="local")
    catalog = DataCatalog.from_config(conf["catalog"])
    datasets = {name for name in create_pipeline().datasets() if not name.startswith("params:")}
    plots = {f"{plot}_plot" for plot in (*PLOTS, *PREPARED_PLOTS)}
    assert datasets == {*OUTPUTS, *PREPARED, "input_encoding", *plots}
    unresolved = sorted(name for name in datasets if name not in catalog)
    assert unresolved == []
    assert "timeseries_dat@pandas" not in catalog  # the check can tell a typo


def test_sliced_pipeline_runs_on_an_in_memory_catalog(make_params):
    """The regression part of the pipeline, fed from memory: data -> KFold fold table."""
    params = make_params(n_samples=1_000, n_features=4)
    sliced = create_pipeline().from_nodes("generate_regression")
    assert {node.name for node in sliced.nodes} == {"generate_regression", "make_regression_folds"}
    catalog = DataCatalog(
        datasets={
            "params:data_generation": MemoryDataset(params, copy_mode="assign"),
            "params:columns": MemoryDataset(COLUMNS, copy_mode="assign"),
        }
    )
    outputs = SequentialRunner().run(sliced, catalog)
    assert set(outputs) == {"regression_folds@pandas"}
    folds = outputs["regression_folds@pandas"].load()
    # Four folds, each testing a quarter of the rows and training on the rest.
    assert folds.groupby(["fold_id", "split"]).size().to_dict() == {
        **{(k, "test"): 250 for k in range(4)},
        **{(k, "train"): 750 for k in range(4)},
    }


def test_synthetic_table_is_prepared_and_cut_into_folds(make_params):
    """The fold part of `__default__` on a synthetic table from memory: preparation's nodes,
    their input mapped to data_generation's table, cut it into expanding folds and plot them."""
    params = make_params(n_samples=1_000, n_features=4)
    sliced = _synthetic().from_inputs("timeseries_data@pandas").to_nodes(*SYNTHETIC_ENDS[2:])
    assert {node.name for node in sliced.nodes} == {
        "prepare_input",
        "make_folds",
        "summarise_folds",
        "plot_folds_timeline",
        "plot_fold_class_balance",
    }
    catalog = DataCatalog(
        datasets={
            "timeseries_data@pandas": MemoryDataset(generate_timeseries(params, COLUMNS)),
            "params:columns": MemoryDataset(COLUMNS, copy_mode="assign"),
            **_preparation_params(n_splits=3),
        }
    )
    outputs = SequentialRunner().run(sliced, catalog)
    assert set(outputs) == {"input_encoding", "folds_timeline_plot", "fold_class_balance_plot"}
    timeline = outputs["folds_timeline_plot"].load()
    # One train and one test bar per fold; the widest train bar spans 750 hourly rows.
    bars = timeline.axes[0].patches
    assert len(bars) == 6
    assert max(bar.get_width() for bar in bars) == pytest.approx(749 / 24)


def test_whole_pipeline_follows_params_columns(make_params, tmp_path):
    """Every node gets params:columns: renamed columns flow through to the folds and plots."""
    params = make_params(n_samples=600, n_features=4)
    catalog = DataCatalog(
        datasets={
            "params:data_generation": MemoryDataset(params, copy_mode="assign"),
            "params:columns": MemoryDataset(RENAMED, copy_mode="assign"),
            **_preparation_params(n_splits=3),
            # Files, not memory: the runner frees in-memory intermediates once consumed.
            **{
                name: ParquetDataset(filepath=str(tmp_path / f"{name}.parquet"))
                for name in ("timeseries_data@pandas", "regression_data@pandas")
            },
            "fold_summary": CSVDataset(filepath=str(tmp_path / "fold_summary.csv")),
        }
    )
    pipeline = _synthetic()
    assert {node.name for node in pipeline.nodes} == NODE_NAMES | PREPARATION_NODES
    assert pipeline.inputs() == {
        "params:data_generation",
        "params:columns",
        "params:preparation",
        "params:tuning.task",
    }
    outputs = SequentialRunner().run(pipeline, catalog)
    for name in ("timeseries_data@pandas", "regression_data@pandas"):
        assert "label" in catalog.load(name).columns, name
    assert list(catalog.load("timeseries_data@pandas").columns[:2]) == ["ts", "x_0"]
    summary = catalog.load("fold_summary")
    assert summary.loc[summary["split"] == "test", "n_rows"].tolist() == [150, 150, 150]
    titles = [ax.get_title() for ax in outputs["sample_features_plot"].load().axes]
    assert titles[0].startswith("x_0: linear trend")


def test_too_few_rows_for_the_folds_stop_at_make_folds(make_params):
    """data_generation no longer knows the folds: preparation refuses the short table, naming
    the rows the folds need, before anything downstream (tuning) would run."""
    params = make_params(n_samples=30)
    catalog = DataCatalog(
        datasets={
            "params:data_generation": MemoryDataset(params, copy_mode="assign"),
            "params:columns": MemoryDataset(COLUMNS, copy_mode="assign"),
            "params:preparation": MemoryDataset(
                PreparationParams(folds=FoldParams(test_size=10)), copy_mode="assign"
            ),
            "params:tuning.task": MemoryDataset("classification"),
        }
    )
    with pytest.raises(InputDataError, match=r"30 rows are too few .* use >= 41 rows"):
        SequentialRunner().run(_synthetic().to_nodes("make_folds"), catalog)


@pytest.mark.slow
def test_kedro_run_writes_every_output(kedro_project: Path, spark, caplog):
    """`__default__` up to the fold plots: data_generation's outputs, and the folds that
    preparation cuts from its table, on disk and readable both ways."""
    caplog.set_level(logging.INFO)
    with KedroSession.create(project_path=kedro_project) as session:
        session.run(pipeline_names=["__default__"], to_nodes=SYNTHETIC_ENDS)
    assert "Running node: generate_timeseries" in caplog.text
    assert "Running node: run_trials" not in caplog.text

    for path in {**OUTPUTS, **PREPARED}.values():
        assert (kedro_project / path).is_file(), path
    for plot in (*PLOTS, *PREPARED_PLOTS):  # versioned: <name>.png/<version>/<name>.png
        (png,) = (kedro_project / "data/08_reporting").glob(f"{plot}.png/*/{plot}.png")
        assert png.read_bytes().startswith(b"\x89PNG")

    data = pd.read_parquet(kedro_project / OUTPUTS["timeseries_data@pandas"])
    assert data.shape == (20_000, 22)
    # The catalog turns dictionary encoding off for the random floats (smaller, faster writes).
    columns = pq.ParquetFile(kedro_project / OUTPUTS["timeseries_data@pandas"]).metadata
    assert not any("DICTIONARY" in e for e in columns.row_group(0).column(1).encodings)
    folds = pd.read_parquet(kedro_project / PREPARED["model_folds@pandas"])
    assert folds.dtypes.astype(str).to_dict() == {
        "fold_id": "int32",
        "split": "object",
        "row": "int64",
    }
    assert folds.groupby("split").size().to_dict() == {"test": 16_000, "train": 40_000}
    summary = pd.read_csv(kedro_project / PREPARED["fold_summary"])
    train = summary[summary["split"] == "train"]
    assert train["n_rows"].tolist() == [4_000, 8_000, 12_000, 16_000]

    # Both transcoded entries read the same files: the schema the tuning pipelines rely on.
    with KedroSession.create(project_path=kedro_project) as session:
        catalog = session.load_context().catalog
        pandas_folds = catalog.load("model_folds@pandas")
        spark_folds = catalog.load("model_folds@spark")
        spark_data = catalog.load("timeseries_data@spark")
        spark_input = catalog.load("model_input@spark")
        spark_regression_folds = catalog.load("regression_folds@spark")
        regression = catalog.load("regression_data@spark")
    pd.testing.assert_frame_equal(pandas_folds, folds)
    assert dict(spark_folds.dtypes) == {"fold_id": "int", "split": "string", "row": "bigint"}
    assert spark_folds.count() == len(folds)
    types = dict(spark_data.dtypes)
    assert types["date"].startswith("timestamp")
    assert types["feature_0"] == "float" and types["target"] == "int"
    first = spark_data.orderBy("date").first()
    assert first["date"].isoformat() == "2000-01-01T00:00:00"
    assert np.isclose(first["feature_0"], data["feature_0"].iloc[0])
    # The model input tuning reads: the same rows, the 0/1 target as class numbers.
    assert spark_input.count() == len(data) and dict(spark_input.dtypes)["target"] == "double"
    assert spark_regression_folds.count() == 4 * 20_000
    assert dict(regression.dtypes)["fold_id"] == "int"


BAD_RUNS = {
    "feature_fractions_over_1": ({"redundant_fraction": 0.3, "repeated_fraction": 0.1}, "<= 1"),
    # The folds are params:preparation.folds now: a stale data_generation.folds is named.
    "folds_moved_to_preparation": ({"folds": {"n_splits": 3}}, "unknown key(s) ['folds']"),
    "weight_above_1": ({"weights": [1.5]}, "less than 1"),
    "typo": ({"n_sample": 300_000}, "unknown key(s) ['n_sample']"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(BAD_RUNS))
def test_kedro_run_stops_before_any_node_on_bad_input(kedro_project: Path, spark, caplog, case):
    overrides, expected = BAD_RUNS[case]
    caplog.set_level(logging.INFO)
    with KedroSession.create(
        project_path=kedro_project, runtime_params={"data_generation": merged({}, overrides)}
    ) as session:
        with pytest.raises(ParameterValidationError) as caught:
            session.run(pipeline_names=["data_generation"])
    message = str(caught.value)
    assert "Parameter 'data_generation'" in message
    assert expected in message
    assert "Running node" not in caplog.text
    assert _files_under(kedro_project / "data") == []
