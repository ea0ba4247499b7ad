"""Benchmark: the `tuning` node against the reference method, GridSearchCV and the hardware limit.

    python tools/benchmark.py                      # small size, medians of 3
    python tools/benchmark.py --size medium        # writes docs/benchmarks/latest.json
    python tools/benchmark.py --size medium --lever validation_scores --methods ours
    python tools/benchmark.py --project /path/to/project   # conf/ and docs/ of another checkout

Run from the project's root (or pass --project): it reads conf/base/ there and writes the report
to docs/benchmarks/ there. It is a developer tool, not part of the installed package.

On one generated dataset, one set of folds and one grid, on one Spark master, it times:
- `ours`: the tuning pipeline's node functions (expand_search_space, run_trials) with the same
  TuningParams model, on a SparkSession built from conf/base/spark.yml as the hook builds it;
- `reference`: the reference notebook's method, `sc.parallelize(param_dicts, n).map(train)`, each
  task reading its fold's train/test parquet with pandas, fitting LGBMClassifier (threads =
  spark.task.cpus), scoring the five metrics and writing one parquet per trial;
- `gridsearch`: scikit-learn GridSearchCV over the same folds, n_jobs = cores (fixed rounds only:
  it cannot early-stop on each fold's test part);
- `limit`: the sum over trials of the pure boosting seconds (lgb.train on a constructed Dataset,
  same params and threads, one trial at a time) divided by the cores.
Methods are interleaved and repeated; the table and the JSON give medians and ratios of one run.
`--lever NAME` also times `ours` with one optimisation switched off (trial.LEVERS, passed to
the search in each TrialSpec; or `worker_reuse`, a Spark setting that needs a session of its own), and `--rounds-grid 100,200,400` adds a num_boost_round grid axis, timed with and
without the shared boosting runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import psutil
import yaml
from pyspark.sql import SparkSession
from sklearn.model_selection import GridSearchCV

from spark_lgbm_tuning import fold_data, lightgbm_params, scoring, trial
from spark_lgbm_tuning.columns import ColumnParams, feature_columns, target_values
from spark_lgbm_tuning.datasets.trial_store import TrialStore
from spark_lgbm_tuning.hooks import build_spark_conf, executor_python
from spark_lgbm_tuning.pipelines.data_generation.nodes import (
    DataGenerationParams,
    generate_timeseries,
    make_timeseries_folds,
)
from spark_lgbm_tuning.pipelines.tuning.nodes import (
    expand_search_space,
)
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.search import run_from_table

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


def make_inputs(
    size: Size, seed: int, conf: Path
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The data and folds data_generation would make from its parameters at this size."""
    raw = yaml.safe_load((conf / "parameters_data_generation.yml").read_text())["data_generation"]
    raw.update({"n_samples": size.rows, "n_features": size.features, "seed": seed})
    raw["folds"] = {**raw["folds"], "n_splits": size.folds}
    params = DataGenerationParams.model_validate(raw)
    data = generate_timeseries(params)
    folds = make_timeseries_folds(data, params)
    return data, folds, params.model_dump(mode="json")


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
    raw = yaml.safe_load((conf / "parameters_tuning.yml").read_text())["tuning"]
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


def fold_indices(folds: pd.DataFrame) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(fold_id, train rows, test rows) in fold order."""
    result = []
    for fold_id, member in folds.groupby("fold_id", sort=True):
        train = np.sort(member.loc[member["split"] == "train", "row"].to_numpy(np.int64))
        test = np.sort(member.loc[member["split"] == "test", "row"].to_numpy(np.int64))
        result.append((int(fold_id), train, test))
    return result


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
    sc = spark.sparkContext
    task_cpus = int(sc.getConf().get("spark.task.cpus", "1"))
    return max(sc.defaultParallelism // task_cpus, 1), task_cpus


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
        results, run_info = run_from_table(
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
    return wall_s, results.toPandas(), run_info


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
    for fold_id, train, test in fold_indices(folds):
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
    cv = [(train, test) for _, train, test in fold_indices(folds)]
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
    rows = {fold_id: (train, test) for fold_id, train, test in fold_indices(folds)}
    for trial_id, fold_id, params, rounds in trials:
        key = (fold_id, trial.stable_hash(lightgbm_params.dataset_params(params)))
        if key not in built:
            train, test = rows[fold_id]
            started = time.perf_counter()
            train_set = fold_data.bin_train_part(x[train], y[train], params)
            train_s = time.perf_counter() - started
            started = time.perf_counter()
            valid_set = lgb.Dataset(
                x[test],
                label=y[test],
                reference=train_set,
                params=lightgbm_params.dataset_params(params),
            ).construct()
            valid_s = time.perf_counter() - started
            binary = workdir / f"limit_fold{fold_id}_{key[1]}.bin"
            train_set.save_binary(str(binary))
            binning[f"{fold_id}:{key[1]}"] = {
                "train_binning_s": train_s,
                "test_binning_s": valid_s,
                "binary_mb": binary.stat().st_size / 2**20,
                "raw_train_mb": x[train].nbytes / 2**20,
                "n_train": len(train),
            }
            binary.unlink()
            built[key] = (train_set, valid_set)
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


# ------------------------------------------------------------------------------ one run


def metric_differences(ours: pd.DataFrame, reference: pd.DataFrame) -> dict[str, Any]:
    """Largest absolute difference per metric between ours and the reference, per trial."""
    merged = ours.merge(reference, on="trial_id", suffixes=("_ours", "_reference"))
    diffs = {
        name: float((merged[f"{name}_ours"] - merged[f"{name}_reference"]).abs().max())
        for name in FIVE_METRICS
    }
    same_rounds = bool((merged["best_iteration_ours"] == merged["best_iteration_reference"]).all())
    return {
        "trials_compared": len(merged),
        "max_abs_diff": diffs,
        "same_best_iteration": same_rounds,
    }


def summarise(values: list[float]) -> dict[str, Any]:
    return {"runs_s": values, "median_s": statistics.median(values)} if values else {}


def _median(table: dict[str, Any], method: str) -> float | None:
    return table.get(method, {}).get("median_s")


def ratios(methods: dict[str, Any], n_trials: int) -> dict[str, Any]:
    """Trials per minute, ratio to the limit and speed-ups from the medians of one run."""
    limit = _median(methods, "limit")
    ours = _median(methods, "ours")
    for name, entry in methods.items():
        if not entry:
            continue
        entry["trials_per_minute"] = 60 * n_trials / entry["median_s"]
        entry["ratio_to_limit"] = entry["median_s"] / limit if limit else None
        if ours and name not in {"ours", "limit"}:
            entry["ours_speedup"] = entry["median_s"] / ours
    reference, gridsearch = _median(methods, "reference"), _median(methods, "gridsearch")
    return {
        "ratio_to_limit": ours / limit if ours and limit else None,
        "speedup_vs_reference": reference / ours if ours and reference else None,
        "speedup_vs_gridsearch": gridsearch / ours if ours and gridsearch else None,
    }


def run_mode(
    spark: SparkSession,
    settings: Settings,
    mode: str,
    *,
    data: pd.DataFrame,
    folds: pd.DataFrame,
    workdir: Path,
    paths: dict[int, tuple[str, str]],
) -> dict[str, Any]:
    """Every method of one mode, interleaved and repeated; medians, ratios and the checks."""
    params = tuning_params(settings.size, mode, settings.conf)
    columns = settings.columns
    n_slots, task_cpus = slots(spark)
    trials = trial_list(expand_search_space(data, folds, params, columns), params, task_cpus)
    methods = [
        method for method in settings.methods if not (method == "gridsearch" and mode != "fixed")
    ]
    times: dict[str, list[float]] = {method: [] for method in methods}
    extra: dict[str, Any] = {}
    for repeat in range(settings.size.repeats):
        for method in methods:
            logger.info("%s, %s, repeat %d/%d", mode, method, repeat + 1, settings.size.repeats)
            if method == "ours":
                wall_s, results, run_info = run_ours(spark, data, folds, params, columns=columns)
                extra["ours_results"], extra["run_info"] = results, run_info
            elif method == "reference":
                wall_s, extra["reference_results"] = run_reference(
                    spark, trials, paths, params.early_stopping_rounds, workdir / "reference_out"
                )
            elif method == "gridsearch":
                wall_s, _ = run_gridsearch(data, folds, params, n_slots * task_cpus, columns)
            else:
                limit = measure_limit(
                    data, folds, trials, params.early_stopping_rounds, workdir, columns=columns
                )
                wall_s = sum(limit["boosting_s"].values()) / n_slots
                extra["limit"] = limit
                if task_cpus > 1:
                    # The same work in single-thread core-seconds over every core: what one
                    # thread per trial could reach, to compare layouts (threads x slots).
                    single = [(tid, fid, {**p, "num_threads": 1}, r) for tid, fid, p, r in trials]
                    single_limit = measure_limit(
                        data, folds, single, params.early_stopping_rounds, workdir, columns=columns
                    )
                    extra["single_thread_limit_s"] = sum(single_limit["boosting_s"].values()) / (
                        n_slots * task_cpus
                    )
            times[method].append(wall_s)
            logger.info("%s, %s: %.2f s", mode, method, wall_s)
    table = {method: summarise(values) for method, values in times.items()}
    entry: dict[str, Any] = {
        "n_trials": len(trials),
        "num_boost_round": params.num_boost_round,
        "early_stopping_rounds": params.early_stopping_rounds,
        "methods": table,
    }
    entry.update(ratios(table, len(trials)))
    if "single_thread_limit_s" in extra:
        ours = _median(table, "ours")
        entry["single_thread_limit_s"] = extra["single_thread_limit_s"]
        entry["ratio_to_single_thread_limit"] = (
            ours / extra["single_thread_limit_s"] if ours else None
        )
    if "ours_results" in extra and "reference_results" in extra:
        entry["metrics_vs_reference"] = metric_differences(
            extra["ours_results"], extra["reference_results"]
        )
    if "ours_results" in extra:
        entry["ours_trials"] = trial_figures(extra["ours_results"], extra["run_info"])
    if "limit" in extra:
        entry["limit_detail"] = {
            "sum_boosting_s": sum(extra["limit"]["boosting_s"].values()),
            # CPU seconds of those runs: below sum_boosting_s when other processes took cores.
            "sum_boosting_cpu_s": sum(extra["limit"]["boosting_cpu_s"].values()),
            "slots": n_slots,
            "binning": extra["limit"]["binning"],
        }
    return entry


def trial_figures(results: pd.DataFrame, run_info: dict[str, Any]) -> dict[str, Any]:
    """Per-trial overheads and memory of our run, from its result rows and run info."""
    ok = results[results["status"] == "ok"]
    return {
        "n_ok": len(ok),
        "driver_binning_s": run_info["binning_s"],
        "job_s": run_info["job_s"],
        "sum_fit_s": float(ok["fit_s"].sum()),
        # CPU seconds of the fits (cpu_utilisation x fit_s x 1 thread): the work itself, which
        # other processes on the machine do not inflate the way they inflate wall seconds.
        "sum_fit_cpu_s": float((ok["cpu_utilisation"] * ok["fit_s"]).sum()),
        "median_cpu_utilisation": float(ok["cpu_utilisation"].median()),
        "sum_data_load_s": float(ok["data_load_s"].sum()),
        "sum_predict_s": float(ok["predict_s"].sum()),
        "median_peak_rss_mb": float(ok["peak_rss_mb"].median()),
        "max_peak_rss_mb": float(ok["peak_rss_mb"].max()),
        "efficiency": run_info["efficiency"],
    }


def run_levers(
    settings: Settings, data: pd.DataFrame, folds: pd.DataFrame, baseline: dict[str, Any]
) -> dict[str, Any]:
    """`ours` with each lever off, against `ours` with all on (a Spark lever gets a session of
    its own; a trial lever is passed to the search)."""
    result = {}
    columns = settings.columns
    for lever in settings.levers:
        off_in_trials = frozenset({lever}) & frozenset(trial.LEVERS)
        for mode in settings.modes:
            params = tuning_params(settings.size, mode, settings.conf)
            walls = []
            with spark_session(settings, disabled=(lever,)) as spark:
                for _ in range(settings.size.repeats):
                    run = run_ours(
                        spark, data, folds, params, columns=columns, disabled_levers=off_in_trials
                    )
                    walls.append(run[0])
            on = baseline.get(mode, {}).get("methods", {}).get("ours", {}).get("median_s")
            off = statistics.median(walls)
            result[f"{lever}:{mode}"] = {
                "lever": lever,
                "mode": mode,
                "off_runs_s": walls,
                "off_median_s": off,
                "on_median_s": on,
                "seconds_saved": off - on if on else None,
            }
            logger.info("lever %s (%s): off %.2f s, on %s s", lever, mode, off, on)
    return result


def run_shared_rounds(
    settings: Settings, data: pd.DataFrame, folds: pd.DataFrame
) -> dict[str, Any]:
    """A num_boost_round grid axis, with shared boosting runs and with one run per trial."""
    params = tuning_params(settings.size, "fixed", settings.conf, settings.rounds_grid)
    columns = settings.columns
    with spark_session(settings) as spark:
        shared_s, shared, _ = run_ours(spark, data, folds, params, columns=columns)
        separate_s, separate, _ = run_ours(
            spark,
            data,
            folds,
            params,
            columns=columns,
            disabled_levers=frozenset({"shared_rounds"}),
        )
    merged = shared.merge(separate, on="trial_id", suffixes=("_shared", "_separate"))
    diffs = {
        name: float((merged[f"{name}_shared"] - merged[f"{name}_separate"]).abs().max())
        for name in FIVE_METRICS
    }
    return {
        "rounds_grid": list(settings.rounds_grid),
        "n_trials": len(shared),
        "shared_s": shared_s,
        "separate_s": separate_s,
        "seconds_saved": separate_s - shared_s,
        "max_abs_metric_diff": diffs,
    }


# ------------------------------------------------------------------------------ report


def machine() -> dict[str, Any]:
    """CPU model, cores, memory and the versions that matter."""
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    packages = ("lightgbm", "pyspark", "scikit-learn", "pandas", "numpy", "pyarrow", "kedro")
    return {
        "cpu_model": model,
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {name: version(name) for name in packages},
    }


def table_markdown(report: dict[str, Any]) -> str:
    """The results table: wall seconds, trials/minute, ratio to the limit, our speed-up."""
    lines = []
    for mode, entry in report["modes"].items():
        lines += [
            f"### {mode} ({entry['n_trials']} trials, num_boost_round {entry['num_boost_round']}"
            f", early_stopping_rounds {entry['early_stopping_rounds']})",
            "",
            "| method | median wall s | runs s | trials/min | ratio to limit | ours faster by |",
            "|---|---:|---|---:|---:|---:|",
        ]
        for method, stats in entry["methods"].items():
            if not stats:
                continue
            ratio = stats.get("ratio_to_limit")
            speedup = stats.get("ours_speedup")
            lines.append(
                f"| {method} | {stats['median_s']:.2f} | "
                + ", ".join(f"{value:.1f}" for value in stats["runs_s"])
                + f" | {stats['trials_per_minute']:.1f} | "
                + ("" if ratio is None else f"{ratio:.3f}")
                + " | "
                + ("" if speedup is None else f"{speedup:.3f}x")
                + " |"
            )
        if entry.get("single_thread_limit_s"):
            ratio = entry.get("ratio_to_single_thread_limit")
            lines += [
                "",
                f"Limit with one LightGBM thread per trial on every core (the same work in "
                f"single-thread core-seconds / cores): {entry['single_thread_limit_s']:.2f} s"
                + ("" if ratio is None else f"; ours is {ratio:.3f} x that")
                + ".",
            ]
        check = entry.get("metrics_vs_reference")
        if check:
            worst = max(check["max_abs_diff"].values())
            lines += [
                "",
                f"Metrics vs the reference over {check['trials_compared']} trials: largest "
                f"absolute difference {worst:.3g}; same best iteration: "
                f"{check['same_best_iteration']}.",
            ]
        lines.append("")
    if report.get("levers"):
        lines += ["### Levers (ours with one optimisation off)", ""]
        lines += ["| lever | mode | off s | on s | saved s |", "|---|---|---:|---:|---:|"]
        for entry in report["levers"].values():
            on, saved = entry["on_median_s"], entry["seconds_saved"]
            lines.append(
                f"| {entry['lever']} | {entry['mode']} | {entry['off_median_s']:.2f} | "
                + ("" if on is None else f"{on:.2f}")
                + " | "
                + ("" if saved is None else f"{saved:.2f}")
                + " |"
            )
        lines.append("")
    shared = report.get("shared_rounds")
    if shared:
        lines += [
            f"### num_boost_round axis {shared['rounds_grid']} ({shared['n_trials']} trials)",
            "",
            f"Shared boosting runs {shared['shared_s']:.2f} s, one run per trial "
            f"{shared['separate_s']:.2f} s: {shared['seconds_saved']:.2f} s saved; largest "
            f"metric difference {max(shared['max_abs_metric_diff'].values()):.3g}.",
            "",
        ]
    return "\n".join(lines)


def write_report(report: dict[str, Any], settings: Settings) -> str:
    """The markdown (machine, parameters, table) and JSON files; returns the table."""
    table = table_markdown(report)
    if settings.out_dir is None:
        return table
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    name = settings.name
    (settings.out_dir / f"{name}.json").write_text(json.dumps(report, indent=2, default=str))
    if name == "medium" and "fixed" in report["modes"]:
        (settings.out_dir / "latest.json").write_text(json.dumps(report, indent=2, default=str))
    header = [
        f"# Benchmark `{name}` ({report['created_at']})",
        "",
        f"Command: `{report['command']}`",
        "",
        "Machine: " + json.dumps(report["machine"]),
        "",
        f"Load average before {report['load_average_before']}, after "
        f"{report['load_average_after']}; wall {report['wall_s']:.0f} s.",
        "",
        "Parameters: " + json.dumps(report["parameters"]),
        "",
    ]
    (settings.out_dir / f"{name}.md").write_text("\n".join(header) + table + "\n")
    return table


def run_benchmark(settings: Settings, spark: SparkSession | None = None) -> dict[str, Any]:
    """Run the benchmark; with `spark` given (a test's session) it is used and not stopped."""
    started = time.perf_counter()
    load_before = list(os.getloadavg())
    data, folds, data_params = make_inputs(settings.size, settings.seed, settings.conf)
    report: dict[str, Any] = {
        "benchmark": "python tools/benchmark.py",
        "command": " ".join(["python tools/benchmark.py", *sys.argv[1:]])
        if spark is None
        else "run_benchmark (test)",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_before": load_before,
        "parameters": {
            "size": settings.size_name,
            **asdict(settings.size),
            "master": settings.master if spark is None else spark.sparkContext.master,
            "grid": grid_for(settings.size.combos),
            "data_generation": data_params,
        },
        "modes": {},
    }
    workdir = Path(tempfile.mkdtemp(prefix="lgbm_benchmark_"))
    try:
        paths = write_fold_parquet(data, folds, workdir / "folds", settings.columns)
        with spark_session(settings, existing=spark) as session:
            report["warm_up_s"] = warm_up(session)
            report["parameters"]["slots_and_task_cpus"] = slots(session)
            report["parameters"]["spark"] = {
                key: value
                for key, value in session.sparkContext.getConf().getAll()
                if key.startswith("spark.")
                and key.split(".")[1] in {"master", "task", "python", "executor", "driver"}
                and not any(part in key for part in ("host", "port", "JavaOptions"))
            }
            for mode in settings.modes:
                report["modes"][mode] = run_mode(
                    session, settings, mode, data=data, folds=folds, workdir=workdir, paths=paths
                )
        if settings.rounds_grid and spark is None:
            report["shared_rounds"] = run_shared_rounds(settings, data, folds)
        if settings.levers:
            report["levers"] = run_levers(settings, data, folds, report["modes"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    headline = report["modes"].get("fixed") or next(iter(report["modes"].values()), {})
    for key in ("ratio_to_limit", "speedup_vs_reference", "speedup_vs_gridsearch"):
        report[key] = headline.get(key)
    report["load_average_after"] = list(os.getloadavg())
    report["wall_s"] = time.perf_counter() - started
    report["table"] = write_report(report, settings)
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python tools/benchmark.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--master", default="local[2]", help="local[N] or spark://host:port")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"subset of {METHODS}")
    parser.add_argument("--modes", default=",".join(MODES), help=f"subset of {MODES}")
    parser.add_argument(
        "--lever",
        action="append",
        default=[],
        choices=[*trial.LEVERS, *SPARK_LEVERS],
        help="also time ours with this optimisation off (repeatable)",
    )
    parser.add_argument("--rounds-grid", default="", help="e.g. 100,200,400: shared-rounds run")
    parser.add_argument(
        "--task-cpus",
        type=int,
        help="spark.task.cpus: LightGBM threads per trial (default: conf/base/spark.yml's)",
    )
    parser.add_argument("--rows", type=int, help="override the size's rows")
    parser.add_argument("--combos", type=int, choices=(2, 4, 8), help="override the combinations")
    parser.add_argument("--fixed-rounds", type=int, help="override the fixed rounds")
    parser.add_argument("--repeats", type=int, help="override the repeats")
    parser.add_argument("--tag", help="output name (default: the size)")
    parser.add_argument(
        "--out-dir", type=Path, help="report folder (default: <project>/docs/benchmarks)"
    )
    parser.add_argument(
        "--project",
        type=Path,
        default=Path.cwd(),
        help="the project root whose conf/base/ is read (default: the current directory)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    overrides = {
        "rows": args.rows,
        "combos": args.combos,
        "fixed_rounds": args.fixed_rounds,
        "repeats": args.repeats,
    }
    size = replace(SIZES[args.size], **{k: v for k, v in overrides.items() if v is not None})
    changed = any(value is not None for key, value in overrides.items() if key != "repeats")
    settings = Settings(
        size_name=args.size,
        size=size,
        master=args.master,
        methods=tuple(name for name in args.methods.split(",") if name),
        modes=tuple(name for name in args.modes.split(",") if name),
        levers=tuple(args.lever),
        rounds_grid=tuple(int(value) for value in args.rounds_grid.split(",") if value),
        task_cpus=args.task_cpus,
        project=args.project,
        out_dir=args.out_dir or args.project / "docs" / "benchmarks",
        tag=args.tag or (f"{args.size}-custom" if changed else None),
    )
    unknown = sorted(set(settings.methods) - set(METHODS)) + sorted(
        set(settings.modes) - set(MODES)
    )
    if unknown:
        raise SystemExit(f"Unknown methods/modes {unknown}; methods: {METHODS}, modes: {MODES}")
    report = run_benchmark(settings)
    sys.stdout.write(report["table"] + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
