"""The benchmark's setup: sizes, settings, inputs made as the pipelines make them, the Spark session."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pyspark.sql import SparkSession

from spark_lgbm_tuning.executor import trial
from spark_lgbm_tuning.pipelines.data_generation.nodes import generate_timeseries
from spark_lgbm_tuning.pipelines.data_generation.params import DataGenerationParams
from spark_lgbm_tuning.pipelines.preparation.folds import FoldParams, cut_folds
from spark_lgbm_tuning.pipelines.preparation.table import prepare_table
from spark_lgbm_tuning.pipelines.tuning.folds import fold_rows
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.spark_jobs import task_cpus, task_slots
from spark_lgbm_tuning.spark.session import build_spark_conf, executor_python
from spark_lgbm_tuning.vocabulary.columns import ColumnParams, feature_columns, target_values

logger = logging.getLogger(__name__)

METHODS = ("ours", "reference", "gridsearch", "limit")
MODES = ("fixed", "early_stopping")
# The five metrics the reference method reports (trial.py's names).
FIVE_METRICS = ("accuracy", "precision", "recall", "f1", "auc_roc")
SPARK_LEVERS = ("worker_reuse",)
GRIDSEARCH_SCORING = {
    "accuracy": "accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1": "f1",
    "auc_roc": "roc_auc",
}
# The default tuning grid: 2 x 2 x 2 = 8 combinations; --combos 2 or 4 keeps the first axes.
GRID = {"num_leaves": [15, 63], "learning_rate": [0.05, 0.1], "min_child_samples": [20, 100]}


@dataclass
class Size:
    """Data and search size of one benchmark."""

    rows: int
    features: int
    folds: int
    combos: int
    fixed_rounds: int
    early_stopping_cap: int
    early_stopping_rounds: int
    repeats: int


SIZES = {
    "tiny": Size(2000, 8, 2, 2, 30, 60, 5, 1),
    # The default data_generation and tuning sizes (20k x 20, 4 folds, 8 combinations).
    "small": Size(20_000, 20, 4, 8, 200, 500, 50, 3),
    # A trial takes seconds: the size the targets are set for.
    "medium": Size(100_000, 100, 4, 8, 300, 500, 50, 1),
}


@dataclass
class Settings:
    """One benchmark invocation."""

    size_name: str = "small"
    size: Size = field(default_factory=lambda: SIZES["small"])
    master: str = "local[2]"
    methods: tuple[str, ...] = METHODS
    modes: tuple[str, ...] = MODES
    levers: tuple[str, ...] = ()
    rounds_grid: tuple[int, ...] = ()
    # spark.task.cpus (LightGBM threads per trial); None: conf/base/spark.yml's.
    task_cpus: int | None = None
    # The project whose conf/base/ the benchmark reads (data, tuning, Spark and column settings).
    project: Path = field(default_factory=Path.cwd)
    # Where the report files go; None: none are written.
    out_dir: Path | None = None
    tag: str | None = None
    seed: int = 42

    @property
    def name(self) -> str:
        return self.tag or self.size_name

    @property
    def conf(self) -> Path:
        return self.project / "conf" / "base"

    @property
    def columns(self) -> ColumnParams:
        """The project's column setting (`columns:` in conf/base/parameters.yml)."""
        raw = yaml.safe_load((self.conf / "parameters.yml").read_text())
        return ColumnParams.model_validate(raw["columns"])


# ------------------------------------------------------------------------------ inputs


def _parameters(conf: Path, pipeline: str) -> dict[str, Any]:
    """`<pipeline>:` of conf/base/parameters_<pipeline>.yml, as written."""
    return yaml.safe_load((conf / f"parameters_{pipeline}.yml").read_text())[pipeline]


def make_inputs(
    size: Size, seed: int, conf: Path, columns: ColumnParams
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The model input and folds `kedro run` would make at this size, and their parameters.

    data_generation's table from its parameters, prepared and cut into folds by preparation
    with conf's fold settings, `n_splits` set to `size.folds`. The parameters are
    data_generation's with the fold settings under `folds`, as the reports have recorded them.
    """
    raw = _parameters(conf, "data_generation")
    raw.update({"n_samples": size.rows, "n_features": size.features, "seed": seed})
    params = DataGenerationParams.model_validate(raw)
    fold_params = FoldParams.model_validate(
        {**_parameters(conf, "preparation")["folds"], "n_splits": size.folds}
    )
    task = _parameters(conf, "tuning")["task"]
    data, _ = prepare_table(generate_timeseries(params, columns), columns, task)
    folds = cut_folds(data, fold_params, columns)
    recorded = {**params.model_dump(mode="json"), "folds": fold_params.model_dump(mode="json")}
    return data, folds, recorded


def grid_for(combos: int) -> dict[str, list[Any]]:
    """The first axes of GRID that give `combos` combinations (2, 4 or 8)."""
    axes = {2: 1, 4: 2, 8: 3}.get(combos)
    if axes is None:
        raise ValueError(f"combos must be 2, 4 or 8 (axes of {list(GRID)}), got {combos}")
    return dict(list(GRID.items())[:axes])


def tuning_params(
    size: Size, mode: str, conf: Path, rounds_grid: tuple[int, ...] = ()
) -> TuningParams:
    """conf/base's tuning parameters at this size; early_stopping_rounds null in fixed mode."""
    raw = _parameters(conf, "tuning")
    grid = grid_for(size.combos)
    fixed = mode == "fixed"
    raw.update(
        grid=grid,
        folds=None,
        num_boost_round=size.fixed_rounds if fixed else size.early_stopping_cap,
        early_stopping_rounds=None if fixed else size.early_stopping_rounds,
        progress_interval_s=60,
    )
    if rounds_grid:
        raw["grid"] = {**grid, "num_boost_round": list(rounds_grid)}
    return TuningParams.model_validate(raw)


def fold_indices(folds: pd.DataFrame, n_rows: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(fold_id, train rows, test rows) in fold order, as the tuning reads the fold table."""
    return [
        (fold_id, train, test) for fold_id, (train, test) in fold_rows(folds, None, n_rows).items()
    ]


def xy(data: pd.DataFrame, columns: ColumnParams) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(feature names, float32 features, float64 target) as the tuning pipeline reads them."""
    features = feature_columns(data, columns)
    return features, data[features].to_numpy(np.float32), target_values(data, columns)


def trial_list(
    trials: pd.DataFrame, params: TuningParams, task_cpus: int
) -> list[tuple[str, int, dict[str, Any], int]]:
    """(trial_id, fold_id, LightGBM params with threads, rounds) of each trial of the table."""
    result = []
    for record in trials.to_dict("records"):
        rounds = int(record.get("param_num_boost_round", params.num_boost_round))
        lgb_params = {**json.loads(record["params_json"]), "num_threads": task_cpus}
        result.append((record["trial_id"], int(record["fold_id"]), lgb_params, rounds))
    return result


# ------------------------------------------------------------------------------ Spark


def spark_settings(
    conf: Path, master: str, worker_reuse: bool = True, task_cpus: int | None = None
) -> dict[str, Any]:
    """conf/base/spark.yml with the benchmark's master (what the hook reads for `kedro run`)."""
    settings = yaml.safe_load((conf / "spark.yml").read_text())
    if task_cpus is not None:
        settings["spark.task.cpus"] = task_cpus
    settings.update(
        {
            "spark.master": master,
            "spark.app.name": "spark-lgbm-tuning-benchmark",
            "spark.ui.enabled": False,
            "spark.python.worker.reuse": worker_reuse,
        }
    )
    return settings


@contextlib.contextmanager
def spark_session(
    settings: Settings, disabled: tuple[str, ...] = (), existing: SparkSession | None = None
) -> Iterator[SparkSession]:
    """A session built as SparkHooks builds it; `worker_reuse` in `disabled` turns that off.

    Trial levers need no session of their own: the search passes them to every trial. An
    `existing` session (a test's) is used as it is.
    """
    spark_levers = [name for name in disabled if name in SPARK_LEVERS]
    if existing is not None:
        if spark_levers:
            raise ValueError(f"Spark levers {spark_levers} need a session of their own")
        yield existing
        return
    conf = build_spark_conf(
        spark_settings(
            settings.conf, settings.master, "worker_reuse" not in disabled, settings.task_cpus
        )
    )
    executor_python(conf)
    spark = SparkSession.builder.config(conf=conf).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    logger.info("Spark warm-up: %.1f s", warm_up(spark))
    try:
        yield spark
    finally:
        spark.stop()


def _import_trial_code(_: int) -> str:
    """A warm-up task: the imports every trial task needs (LightGBM, scikit-learn, trial)."""
    return trial.__name__


def warm_up(spark: SparkSession) -> float:
    """Start the Python workers of every slot and import the trial code; returns the seconds.

    Not timed with the methods: a `kedro run` pays it once, and whichever method ran first in
    a session would pay it alone.
    """
    n_slots, _ = slots(spark)
    started = time.perf_counter()
    spark.sparkContext.parallelize(range(n_slots), n_slots).map(_import_trial_code).collect()
    return time.perf_counter() - started


def slots(spark: SparkSession) -> tuple[int, int]:
    """(task slots, spark.task.cpus) of the session: trials that run at once, threads each."""
    cpus = task_cpus(spark.sparkContext)
    return task_slots(spark.sparkContext, cpus), cpus
