"""Nodes of the scoring pipeline: the refit model applied to a new table on the executors.

`mapInPandas` rather than MLflow's `pyfunc.spark_udf`: it works the same on a classic session, a
cluster and Spark Connect, needs no MLflow model on the executors (a run with tracking off still
scores), keeps every input column (ids) without a struct round trip, and builds the booster once
per task from the text in the function's closure (docs/running.md, "Scoring").
"""

from __future__ import annotations

import logging
from typing import Any

import lightgbm as lgb
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from spark_lgbm_tuning.executor.encoding import InputEncoding
from spark_lgbm_tuning.executor.predict import PREDICTION, Scorer
from spark_lgbm_tuning.vocabulary.errors import InputDataError

logger = logging.getLogger(__name__)

_NUMERIC = (T.NumericType, T.BooleanType)


def check_model_encoding(model_text: str, encoding: InputEncoding) -> None:
    """Fail when the refit model was trained on other features than the encoding names."""
    trained = lgb.Booster(model_str=model_text).feature_name()
    if list(trained) != list(encoding.features):
        raise InputDataError(
            f"The refit model's features {trained[:8]} differ from input_encoding's "
            f"{list(encoding.features)[:8]}: the model input was prepared again after the refit; "
            "rerun tuning and reporting (kedro run) before scoring"
        )


def _check_schema(table: DataFrame, scorer: Scorer) -> None:
    """Missing features, numeric features of another type, clashing output names: one line."""
    encoding = scorer.encoding
    encoding.check_columns(table.columns, "scoring_table")
    types = {field.name: field.dataType for field in table.schema.fields}
    mistyped = {
        name: types[name].simpleString()
        for name in encoding.features
        if name not in encoding.categories and not isinstance(types[name], _NUMERIC)
    }
    if mistyped:
        raise InputDataError(
            f"scoring_table's feature column(s) {mistyped} are not numeric, as they were in "
            "training: cast them, or fix the table"
        )
    clash = sorted(set(scorer.added_columns()) & set(table.columns))
    if clash:
        raise InputDataError(
            f"scoring_table already has column(s) {clash}, which scoring adds: rename or drop "
            "them before scoring"
        )


def _scored_schema(table: DataFrame, scorer: Scorer) -> T.StructType:
    fields = list(table.schema.fields)
    if scorer.task == "regression" or scorer.encoding.classes is None:
        label = T.DoubleType()
    else:
        label = T.StringType()
    fields.append(T.StructField(PREDICTION, label, True))
    fields.extend(T.StructField(name, T.DoubleType(), True) for name in scorer.added_columns()[1:])
    return T.StructType(fields)


def _task_cpus(spark: SparkSession) -> int:
    """The cores one task may use (spark.task.cpus, 1 unless set): LightGBM's threads."""
    return int(spark.conf.get("spark.task.cpus", "1") or 1)


def score_table(
    scoring_table: Any,
    refit_model: str,
    input_encoding: dict[str, Any],
    task: str,
    threshold: float,
) -> DataFrame:
    """`scoring_table` (pandas or Spark) with the prediction and class probabilities appended.

    The rows are scored on the executors (`mapInPandas`); a pandas table becomes a Spark one
    first. Labels come back as the user's (string classes as strings).
    """
    encoding = InputEncoding.from_dict(input_encoding)
    check_model_encoding(refit_model, encoding)
    spark = SparkSession.getActiveSession()
    if spark is None:
        raise RuntimeError("score_table needs the run's SparkSession (SparkHooks builds it)")
    scorer = Scorer(refit_model, encoding, task, threshold, num_threads=_task_cpus(spark))
    table = (
        spark.createDataFrame(scoring_table)
        if isinstance(scoring_table, pd.DataFrame)
        else scoring_table
    )
    _check_schema(table, scorer)
    logger.info(
        "Scoring with the refit model (%d features, %d categorical) on the executors",
        len(encoding.features),
        len(encoding.categories),
    )
    return table.mapInPandas(scorer.score_batches, schema=_scored_schema(table, scorer))
