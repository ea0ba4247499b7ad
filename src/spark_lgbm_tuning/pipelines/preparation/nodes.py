"""Nodes of the preparation pipeline: the input table as the model input, its folds.

The work lives in `table.py` (columns, encoding, labels) and `folds.py` (the fold kinds, the
fold summary); these functions only adapt them to the catalog: a Spark table is narrowed to
the columns preparation reads before it reaches the driver.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from spark_lgbm_tuning.pipelines.preparation.folds import FoldParams, cut_folds
from spark_lgbm_tuning.pipelines.preparation.table import Task, needed_columns, prepare_table
from spark_lgbm_tuning.vocabulary.columns import ColumnParams


class PreparationParams(BaseModel):
    """`params:preparation`: how the model input is cut into cross-validation folds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    folds: FoldParams = Field(default_factory=FoldParams)


def prepare_input(
    input_table: Any, columns: ColumnParams, task: Task
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The input table (pandas, or a Spark DataFrame) as the model input and its encoding.

    A Spark table is narrowed to the features, target, time and group columns on the cluster;
    only those reach the driver, which bins them for the trials.
    """
    if not isinstance(input_table, pd.DataFrame) and hasattr(input_table, "toPandas"):
        wanted = needed_columns(list(input_table.columns), columns)
        input_table = input_table.select(*wanted).toPandas()
    return prepare_table(input_table, columns, task)


def make_folds(
    model_input: pd.DataFrame, params: PreparationParams, columns: ColumnParams
) -> pd.DataFrame:
    """The fold table (fold_id, split, row) of the model input, of `params.folds.kind`."""
    return cut_folds(model_input, params.folds, columns)
