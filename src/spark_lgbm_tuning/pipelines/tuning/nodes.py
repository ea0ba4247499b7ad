"""Nodes of the tuning pipeline: expand the grid into trials, run every trial as a Spark task.

The work lives in modules named after their job: `params` (the search settings), `folds` (the
fold data and its checks), `search_space` (trials and their ids), `search` (reuse of stored
trials, run info) with `shipping` (binned folds), `tasks` (task groups) and `scheduler` (Spark
jobs), and `results` (the stored rows); the executor side is `spark_lgbm_tuning.executor.trial`.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from pyspark.sql import SparkSession

from spark_lgbm_tuning.datasets.trial_store import TrialStore
from spark_lgbm_tuning.pipelines.tuning import search_space
from spark_lgbm_tuning.pipelines.tuning.folds import (
    FoldArrays,
    check_target,
    fold_rows,
    searched_params,
)
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.search import run_from_table
from spark_lgbm_tuning.pipelines.tuning.sources import search_table
from spark_lgbm_tuning.vocabulary.columns import ColumnParams, feature_columns

logger = logging.getLogger(__name__)


def expand_search_space(
    data: pd.DataFrame, folds: pd.DataFrame, params: TuningParams, columns: ColumnParams
) -> pd.DataFrame:
    """Expand fixed params x grid x folds into one row per trial, with deterministic ids.

    An adaptive search.strategy proposes its combinations while it runs: its table has the
    same columns and no row (sources.search_table).

    Checks the columns, the folds, the target and (with LightGBM, on a slice of the data) every
    grid value first. `combo_id` hashes the LightGBM parameters and boosting settings;
    `trial_id` adds the fold id and a fingerprint of the fold's data.
    """
    feature_columns(data, columns)  # names a missing target or bad feature column first
    rows = fold_rows(folds, params.folds, len(data))
    arrays = FoldArrays(data, rows, columns)
    check_target(arrays.y, rows, params.task)
    params = searched_params(params, arrays)
    params.check_max_trials(len(rows))
    search_space.check_grid_values(arrays, params)
    return search_table(arrays, params)


def run_trials(  # noqa: PLR0917 - Kedro passes a node's inputs by position
    data: pd.DataFrame,
    folds: pd.DataFrame,
    trials: pd.DataFrame,
    params: TuningParams,
    columns: ColumnParams,
    trial_store: TrialStore | None = None,
) -> tuple[pd.DataFrame, dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Run the trials the trial store lacks, one Spark job per task group; return all results.

    Each result is appended to `trial_store` as it reaches the driver, so an interrupted run
    keeps its finished trials and the next one (with `resume: true`) runs only the rest. LightGBM
    uses spark.task.cpus threads per trial. Returns every trial's result (reused and new) as a
    pandas DataFrame with an explicit schema, the run's info (cluster shape, wall time,
    efficiency, trials reused and run, executors lost), and the trials' own test predictions
    and learning curves of the leading combinations (tuning/predictions.py) for the report.
    """
    spark = SparkSession.getActiveSession()
    if spark is None:
        raise RuntimeError(
            "run_trials needs an active SparkSession: run it through Kedro (SparkHooks builds "
            "one from conf/<env>/spark.yml) or create one before calling it"
        )
    return run_from_table(spark, data, folds, trials, params, columns=columns, store=trial_store)
