"""preparation/nodes.py: a Spark table is narrowed before it reaches the driver; too large a
table for Spark's result limit is one line naming the setting."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from spark_lgbm_tuning.pipelines.preparation.nodes import (
    PreparationParams,
    make_folds,
    prepare_input,
)
from spark_lgbm_tuning.vocabulary.columns import ColumnParams

COLUMNS = ColumnParams(target="y", feature_prefix=None, exclude=["note"], time=None)


def _table(n: int = 40) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "note": ["x" * 200] * n,
            "shop": (["a", "b"] * n)[:n],
            "size": [float(i) for i in range(n)],
            "y": ([0, 1, 1, 0] * n)[:n],
        }
    )


def test_a_spark_table_is_narrowed_to_what_preparation_reads(spark):
    model_input, payload = prepare_input(spark.createDataFrame(_table()), COLUMNS, "classification")

    assert list(model_input.columns) == ["shop", "size", "y"]
    assert payload["features"] == ["shop", "size"]
    pd.testing.assert_frame_equal(
        model_input, prepare_input(_table(), COLUMNS, "classification")[0]
    )


# A driver whose result limit is 1 MiB (a SparkContext setting: its own process), and a table
# of ~3 MiB in 16 parts: the parts together pass the limit, as a large table does.
OVER_THE_LIMIT = """
import os, sys
import pandas as pd
from pyspark.sql import SparkSession
from spark_lgbm_tuning.pipelines.preparation.nodes import prepare_input
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from spark_lgbm_tuning.vocabulary.errors import InputDataError

os.environ["PYSPARK_PYTHON"] = sys.executable
spark = (
    SparkSession.builder.master("local[1]")
    .config("spark.driver.host", "127.0.0.1")
    .config("spark.driver.bindAddress", "127.0.0.1")
    .config("spark.ui.enabled", "false")
    .config("spark.driver.maxResultSize", "1m")
    .getOrCreate()
)
table = spark.createDataFrame(pd.DataFrame({"x": range(400000), "y": [0, 1] * 200000}))
try:
    prepare_input(table.repartition(16), ColumnParams(target="y", time=None, feature_prefix=None),
                  "classification")
except InputDataError as error:
    print("REFUSED", error)
spark.stop()
"""


@pytest.mark.slow
def test_a_table_over_the_result_limit_names_the_setting():
    run = subprocess.run(
        [sys.executable, "-c", OVER_THE_LIMIT],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    refused = [line for line in run.stdout.splitlines() if line.startswith("REFUSED")]
    assert refused, run.stderr[-3000:]
    assert "larger than spark.driver.maxResultSize (Spark's limit" in refused[0]


def test_make_folds_cuts_the_kind_the_params_name():
    model_input, _ = prepare_input(_table(), COLUMNS, "classification")
    params = PreparationParams.model_validate({"folds": {"kind": "kfold", "n_splits": 4}})

    folds = make_folds(model_input, params, COLUMNS)

    test_rows = folds.loc[folds["split"] == "test", "row"]
    assert sorted(test_rows) == list(range(40)) and folds["fold_id"].nunique() == 4
