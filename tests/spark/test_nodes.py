"""Which nodes of a run need the SparkSession (spark/nodes.py)."""

from __future__ import annotations

import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from kedro.pipeline import Node

from spark_lgbm_tuning.pipelines import data_generation, reporting, tuning, tuning_regression
from spark_lgbm_tuning.settings import CONFIG_LOADER_ARGS
from spark_lgbm_tuning.spark.nodes import is_spark_dataset, needs_spark, spark_node_names


def _identity(value):
    return value


@pytest.fixture
def catalog() -> DataCatalog:
    """Transcoded pandas/Spark entries and a factory, as conf/base/catalog.yml has them."""
    return DataCatalog.from_config(
        {
            "table@pandas": {"type": "pandas.ParquetDataset", "filepath": "t.parquet"},
            "table@spark": {
                "type": "spark.SparkDatasetV2",
                "filepath": "t.parquet",
                "file_format": "parquet",
            },
            "{name}_frame": {"type": "spark.SparkDatasetV2", "filepath": "data/{name}.parquet"},
        }
    )


def test_spark_datasets_are_told_by_their_type_entry_or_factory(catalog):
    assert is_spark_dataset(catalog, "table@spark")
    assert is_spark_dataset(catalog, "scores_frame")
    assert not is_spark_dataset(catalog, "table@pandas")
    assert not is_spark_dataset(catalog, "not_in_the_catalog")


def test_a_node_needs_spark_for_a_spark_input_output_or_the_tag(catalog):
    pandas_only = Node(_identity, "table@pandas", "copy", name="pandas_only")
    reads = Node(_identity, "table@spark", "copy", name="reads")
    writes = Node(_identity, "table@pandas", "scores_frame", name="writes")
    tagged = Node(_identity, "table@pandas", "copy", name="tagged", tags=["spark"])
    assert not needs_spark(pandas_only, catalog)
    assert needs_spark(reads, catalog)
    assert needs_spark(writes, catalog)
    assert needs_spark(tagged, catalog)


def test_the_projects_pipelines_need_spark_only_in_the_search(project_root):
    """data_generation and reporting start no JVM; run_trials (tagged spark) does."""
    pipelines = {
        "data_generation": data_generation.create_pipeline(),
        "reporting": reporting.create_pipeline(),
        "tuning": tuning.create_pipeline(),
        "tuning_regression": tuning_regression.create_pipeline(),
    }
    loader = OmegaConfigLoader(
        conf_source=str(project_root / "conf"), env="base", **CONFIG_LOADER_ARGS
    )
    catalog = DataCatalog.from_config(loader["catalog"])
    needed = {name: spark_node_names(pipelines[name], catalog) for name in sorted(pipelines)}
    assert needed == {
        "data_generation": set(),
        "reporting": set(),
        "tuning": {"run_trials"},
        "tuning_regression": {"regression.run_trials"},
    }
