"""Trials on the executors of a Spark Connect session: one group of trials in, its rows out.

Under Spark Connect there is no RDD: the driver sends each task group as one row of a DataFrame
(the group's TrialSpecs pickled into SPECS_COLUMN) processed by `mapInPandas(run_pandas_groups,
RESULT_SCHEMA)`. Each group runs as `trial.run_spark_group` runs it on an RDD; its rows come back
with the result schema (trial_spec.ID_FIELDS + trial_spec.RESULT_FIELDS, the test predictions as an array
and the learning curve as JSON). No Kedro import: executors import this module.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from spark_lgbm_tuning.executor.trial import run_spark_group
from spark_lgbm_tuning.executor.trial_spec import (
    ID_FIELDS,
    LEARNING_CURVE,
    RESULT_FIELDS,
    TEST_PREDICTIONS,
    TrialSpec,
)

# The input column: one task group's list[TrialSpec], pickled.
SPECS_COLUMN = "specs"
# Spark DDL of the rows run_pandas_groups yields.
RESULT_SCHEMA = ", ".join(
    [f"{name} {kind}" for name, kind in {**ID_FIELDS, **RESULT_FIELDS}.items()]
    + [f"{TEST_PREDICTIONS} array<double>", f"{LEARNING_CURVE} string"]
)


def encode_group(group: list[TrialSpec]) -> bytes:
    """A task group as the bytes of its SPECS_COLUMN cell."""
    return pickle.dumps(group, protocol=pickle.HIGHEST_PROTOCOL)


def encode_row(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with its predictions as a list and its learning curve as JSON (Arrow types)."""
    predictions = row[TEST_PREDICTIONS]
    curve = row[LEARNING_CURVE]
    return {
        **row,
        TEST_PREDICTIONS: None if predictions is None else np.asarray(predictions).tolist(),
        LEARNING_CURVE: None if curve is None else json.dumps(curve),
    }


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row of RESULT_SCHEMA back as `trial.run_group` returned it (driver side)."""
    predictions = row[TEST_PREDICTIONS]
    curve = row[LEARNING_CURVE]
    return {
        **row,
        TEST_PREDICTIONS: None if predictions is None else np.asarray(predictions, dtype=float),
        LEARNING_CURVE: None if curve is None else json.loads(curve),
    }


def run_pandas_groups(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """mapInPandas function: run every task group of the batches, yield their result rows."""
    for batch in batches:
        for cell in batch[SPECS_COLUMN]:
            rows = run_spark_group(pickle.loads(cell))  # noqa: S301 - the driver's own specs
            yield pd.DataFrame(
                [encode_row(row) for row in rows],
                columns=[*ID_FIELDS, *RESULT_FIELDS, TEST_PREDICTIONS, LEARNING_CURVE],
            )
