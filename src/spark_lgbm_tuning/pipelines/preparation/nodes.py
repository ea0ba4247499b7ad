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
from spark_lgbm_tuning.vocabulary.errors import InputDataError

RESULT_SIZE_LIMIT = "spark.driver.maxResultSize"


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
        try:
            input_table = input_table.select(*wanted).toPandas()
        except Exception as error:
            if RESULT_SIZE_LIMIT not in str(error):
                raise
            raise InputDataError(
                f"input_table's {len(wanted)} columns are larger than {RESULT_SIZE_LIMIT} "
                "(Spark's limit on what reaches the driver, 1g by default): raise it in "
                "conf/<env>/spark.yml (0: no limit) with spark.driver.memory above it, or "
                "narrow the table (exclude columns, filter rows in its catalog entry)"
            ) from error
    return prepare_table(input_table, columns, task)


def make_folds(
    model_input: pd.DataFrame, params: PreparationParams, columns: ColumnParams
) -> pd.DataFrame:
    """The fold table (fold_id, split, row) of the model input, of `params.folds.kind`."""
    return cut_folds(model_input, params.folds, columns)
