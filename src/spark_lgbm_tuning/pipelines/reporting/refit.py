"""Where the final refit runs: on an executor of the run's cluster, or on the driver.

`reporting.refit_on`: `auto` (an executor when the run has a classic SparkSession on a cluster,
the driver otherwise: `local[*]`, Spark Connect, or `--pipelines reporting` alone, which starts
no Spark), `driver`, or `executor` (any classic session, `local[*]` included). On an executor the
refit is one Spark task: the driver bins the rows once (the trials' binning, `bin_train_part`)
and ships the binary with addFile, and the task boosts it with the trials' own recipe
(`trial.fit_shipped_model`) and returns the model's text. Its LightGBM threads are
`refit_num_threads`, else every core of the executor's host: the search is over, no trial runs
beside it.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import numpy as np
from pyspark.sql import SparkSession

from spark_lgbm_tuning.executor.fold_data import bin_train_part
from spark_lgbm_tuning.executor.trial import fit_shipped_model
from spark_lgbm_tuning.pipelines.tuning.shipping import shipping_dir
from spark_lgbm_tuning.spark.remote import is_connect

from .results import ReportingError

logger = logging.getLogger(__name__)


def refit_session(refit_on: str, spark: SparkSession | None) -> SparkSession | None:
    """The session whose executor fits the model, or None for the driver (see module doc)."""
    if refit_on == "driver":
        return None
    classic = spark is not None and not is_connect(spark)
    if refit_on == "executor":
        if not classic:
            raise ReportingError(
                "reporting.refit_on is executor, but this run has no classic SparkSession "
                f"({'a Spark Connect one' if spark is not None else 'none'}): run reporting "
                "with the tuning pipeline on a cluster, or set reporting.refit_on to auto"
            )
        return spark
    return spark if classic and not spark.sparkContext.master.startswith("local") else None


def fit_on_executor(
    spark: SparkSession,
    params: dict[str, Any],
    num_boost_round: int,
    *,
    x: np.ndarray,
    y: np.ndarray,
    feature_names: list[str],
) -> str:
    """The model's LightGBM text, fit by one Spark task on (x, y) binned here (module doc)."""
    sc = spark.sparkContext
    train = bin_train_part(x, y, params)
    train.set_feature_name(feature_names)
    # Kept while the SparkContext lives, as the folds are (shipping.SHIPPED_DIRS), under a
    # fresh name: SparkFiles is flat and one name is added once per SparkContext.
    path = shipping_dir(sc.applicationId) / f"refit-{uuid.uuid4().hex[:12]}.bin"
    train.save_binary(str(path))
    sc.addFile(str(path))
    sc.setJobDescription("LightGBM refit of the best combination")
    [(model, executor)] = (
        sc.parallelize([(params, num_boost_round, path.name)], 1).map(fit_shipped_model).collect()
    )
    logger.info("Refit on executor %s of %s", executor, sc.master)
    return model
