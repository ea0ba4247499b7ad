"""run_inputs.check_inputs_exist: a missing input named before the run, a Spark one left to
Spark (no JVM started to look). The refusals of a whole `kedro run` are in test_cli.py."""

from __future__ import annotations

import psutil
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline
from pyspark import SparkContext

from spark_lgbm_tuning.run_inputs import MissingInputError, check_inputs_exist


def _identity(value):
    return value


def test_a_missing_input_fails_before_the_run():
    catalog = DataCatalog({"absent": MemoryDataset()})
    pipeline = Pipeline([Node(_identity, "absent", "out", name="copy")])
    with pytest.raises(MissingInputError, match="Input dataset 'absent' does not exist"):
        check_inputs_exist(pipeline, catalog)


def test_a_spark_input_is_left_to_spark_not_checked_by_starting_a_jvm(tmp_path):
    catalog = DataCatalog.from_config(
        {
            "table@spark": {
                "type": "spark.SparkDatasetV2",
                "filepath": str(tmp_path / "absent.parquet"),
                "file_format": "parquet",
            }
        }
    )
    pipeline = Pipeline([Node(_identity, "table@spark", "out", name="copy")])
    # A session of an earlier test in this process may be running: nothing may change.
    before = (SparkContext._active_spark_context, _java_children())
    check_inputs_exist(pipeline, catalog)  # no MissingInputError for the absent path
    assert (SparkContext._active_spark_context, _java_children()) == before


def _java_children() -> set[int]:
    """The JVMs this test process started (PySpark's gateway runs `java` as a child)."""
    children = psutil.Process().children(recursive=True)
    return {child.pid for child in children if child.name().startswith("java")}
