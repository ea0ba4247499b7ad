"""The benchmark's methods: ours (the search), the reference method, GridSearchCV, the limit."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import psutil
from pyspark.sql import SparkSession
from sklearn.model_selection import GridSearchCV

from spark_lgbm_tuning.datasets.trial_store import TrialStore
from spark_lgbm_tuning.executor import fold_data, scoring
from spark_lgbm_tuning.pipelines.tuning.nodes import expand_search_space
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.search import run_from_table
from spark_lgbm_tuning.vocabulary import hashing, lightgbm_params
from spark_lgbm_tuning.vocabulary.columns import ColumnParams, feature_columns, target_values
from tools.benchmark_setup import FIVE_METRICS, GRIDSEARCH_SCORING, fold_indices, xy

logger = logging.getLogger(__name__)

# ------------------------------------------------------------------------------ methods


def run_ours(
    spark: SparkSession,
    data: pd.DataFrame,
    folds: pd.DataFrame,
    params: TuningParams,
    *,
    columns: ColumnParams,
    disabled_levers: frozenset[str] = frozenset(),
) -> tuple[float, pd.DataFrame, dict[str, Any]]:
    """The tuning pipeline's two nodes' work, as `kedro run` does it; (wall s, results, info).

    Each call gets an empty trial store, as a first `kedro run` has: every result is appended to
    it as it arrives (that cost is timed), and nothing is reused. `disabled_levers` travel to the
    trials in their specs.
    """
    store_dir = Path(tempfile.mkdtemp(prefix="lgbm_benchmark_store_"))
    try:
        started = time.perf_counter()
        trials = expand_search_space(data, folds, params, columns)
        results, run_info, _, _ = run_from_table(
            spark,
            data,
            folds,
            trials,
            params,
            columns=columns,
            store=TrialStore(store_dir),
            disabled_levers=disabled_levers,
        )
        wall_s = time.perf_counter() - started
    finally:
        shutil.rmtree(store_dir, ignore_errors=True)
    return wall_s, results, run_info


def write_fold_parquet(
    data: pd.DataFrame, folds: pd.DataFrame, directory: Path, columns: ColumnParams
) -> dict[int, tuple[str, str]]:
    """The reference's preparation: one train and one test parquet per fold (not timed).

    Its files name the label `target`, as the reference notebook's do.
    """
    directory.mkdir(parents=True, exist_ok=True)
    features = feature_columns(data, columns)
    table = data[features].assign(target=target_values(data, columns))
    paths = {}
    for fold_id, train, test in fold_indices(folds, len(data)):
        train_path = directory / f"fold{fold_id}_train.parquet"
        test_path = directory / f"fold{fold_id}_test.parquet"
        table.iloc[train].to_parquet(train_path, index=False)
        table.iloc[test].to_parquet(test_path, index=False)
        paths[fold_id] = (str(train_path), str(test_path))
    return paths


def reference_train(param_dict: dict[str, Any]) -> dict[str, Any]:
    """The reference notebook's task: read the fold with pandas, fit, score, write a parquet."""
    started = time.perf_counter()
    train = pd.read_parquet(param_dict["train_path"])
    test = pd.read_parquet(param_dict["test_path"])
    features = [column for column in train.columns if column != "target"]
    model = lgb.LGBMClassifier(n_estimators=param_dict["rounds"], **param_dict["params"])
    fit_args: dict[str, Any] = {}
    if param_dict["early_stopping_rounds"]:
        fit_args = {
            "eval_set": [(test[features], test["target"])],
            "callbacks": [lgb.early_stopping(param_dict["early_stopping_rounds"], verbose=False)],
        }
    model.fit(train[features], train["target"], **fit_args)
    probability = model.predict_proba(test[features])[:, 1]
    metrics = scoring.classification_metrics(test["target"].to_numpy(), probability)
    row = {
        "trial_id": param_dict["trial_id"],
        "fold_id": param_dict["fold_id"],
        **{name: metrics[name] for name in FIVE_METRICS},
        "best_iteration": int(model.best_iteration_ or param_dict["rounds"]),
        "seconds": time.perf_counter() - started,
    }
    pd.DataFrame([row]).to_parquet(Path(param_dict["out_dir"]) / f"{row['trial_id']}.parquet")
    return row


def run_reference(
    spark: SparkSession,
    trials: list[tuple[str, int, dict[str, Any], int]],
    paths: dict[int, tuple[str, str]],
    early_stopping_rounds: int | None,
    out_dir: Path,
) -> tuple[float, pd.DataFrame]:
    """sc.parallelize(param_dicts, len(param_dicts)).map(train); (wall s, one row per trial)."""
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    param_dicts = [
        {
            "trial_id": trial_id,
            "fold_id": fold_id,
            # The sklearn API takes n_jobs; the value is the same spark.task.cpus threads.
            "params": {
                **{k: v for k, v in params.items() if k != "num_threads"},
                "n_jobs": params["num_threads"],
            },
            "rounds": rounds,
            "early_stopping_rounds": early_stopping_rounds,
            "train_path": paths[fold_id][0],
            "test_path": paths[fold_id][1],
            "out_dir": str(out_dir),
        }
        for trial_id, fold_id, params, rounds in trials
    ]
    sc = spark.sparkContext
    started = time.perf_counter()
    sc.parallelize(param_dicts, len(param_dicts)).map(reference_train).collect()
    wall_s = time.perf_counter() - started
    rows = pd.concat([pd.read_parquet(path) for path in sorted(out_dir.glob("*.parquet"))])
    return wall_s, rows.reset_index(drop=True)


def run_gridsearch(
    data: pd.DataFrame, folds: pd.DataFrame, params: TuningParams, cores: int, columns: ColumnParams
) -> tuple[float, pd.DataFrame]:
    """GridSearchCV(LGBMClassifier(n_jobs=1), grid, cv=the same folds, n_jobs=cores)."""
    _, x, y = xy(data, columns)
    cv = [(train, test) for _, train, test in fold_indices(folds, len(data))]
    fixed = params.lightgbm_params({})
    estimator = lgb.LGBMClassifier(n_jobs=1, n_estimators=params.num_boost_round, **fixed)
    search = GridSearchCV(
        estimator,
        {name: list(values) for name, values in params.grid.items()},
        scoring=GRIDSEARCH_SCORING,
        cv=cv,
        n_jobs=cores,
        refit=False,
    )
    started = time.perf_counter()
    search.fit(x, y)
    wall_s = time.perf_counter() - started
    return wall_s, pd.DataFrame(search.cv_results_)


def _bin_fold(
    x: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    *,
    params: dict[str, Any],
    binary: Path,
) -> tuple[tuple[lgb.Dataset, lgb.Dataset], dict[str, float]]:
    """A fold's train and validation Datasets, with the binning seconds and the binary's size."""
    started = time.perf_counter()
    train_set = fold_data.bin_train_part(x[train], y[train], params)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    valid_set = fold_data.bin_test_part(x[test], y[test], train_set, params)
    valid_s = time.perf_counter() - started
    train_set.save_binary(str(binary))
    figures = {
        "train_binning_s": train_s,
        "test_binning_s": valid_s,
        "binary_mb": binary.stat().st_size / 2**20,
        "raw_train_mb": x[train].nbytes / 2**20,
        "n_train": len(train),
    }
    binary.unlink()
    return (train_set, valid_set), figures


def measure_limit(
    data: pd.DataFrame,
    folds: pd.DataFrame,
    trials: list[tuple[str, int, dict[str, Any], int]],
    early_stopping_rounds: int | None,
    workdir: Path,
    *,
    columns: ColumnParams,
) -> dict[str, Any]:
    """Pure boosting seconds of every trial, one at a time, on Datasets built beforehand.

    Also times each fold's binning and records its binary's size, for the bin-once lever and
    the memory figures.
    """
    _, x, y = xy(data, columns)
    built: dict[tuple[int, str], tuple[lgb.Dataset, lgb.Dataset]] = {}
    binning: dict[str, dict[str, float]] = {}
    boosting_s: dict[str, float] = {}
    boosting_cpu_s: dict[str, float] = {}
    process = psutil.Process()
    rows = {fold_id: (train, test) for fold_id, train, test in fold_indices(folds, len(data))}
    for trial_id, fold_id, params, rounds in trials:
        key = (fold_id, hashing.stable_hash(lightgbm_params.dataset_params(params)))
        if key not in built:
            train, test = rows[fold_id]
            built[key], binning[f"{fold_id}:{key[1]}"] = _bin_fold(
                x,
                y,
                train,
                test,
                params=params,
                binary=workdir / f"limit_fold{fold_id}_{key[1]}.bin",
            )
        train_set, valid_set = built[key]
        kwargs: dict[str, Any] = {}
        if early_stopping_rounds:
            kwargs = {
                "valid_sets": [valid_set],
                "callbacks": [lgb.early_stopping(early_stopping_rounds, verbose=False)],
            }
        cpu_before = process.cpu_times()
        started = time.perf_counter()
        lgb.train(params, train_set, num_boost_round=rounds, **kwargs)
        boosting_s[trial_id] = time.perf_counter() - started
        cpu_after = process.cpu_times()
        boosting_cpu_s[trial_id] = (cpu_after.user - cpu_before.user) + (
            cpu_after.system - cpu_before.system
        )
    return {"boosting_s": boosting_s, "boosting_cpu_s": boosting_cpu_s, "binning": binning}
