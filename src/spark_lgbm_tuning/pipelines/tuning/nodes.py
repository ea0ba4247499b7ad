"""Hyperparameter search: expand the grid into trials, run every trial as a Spark task.

The executor side (fit and score one trial) lives in `spark_lgbm_tuning.trial`; this module is
the driver side: it validates the search space, bins each fold once, ships the binaries with
SparkContext.addFile, runs the job while logging progress, and assembles the results.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import itertools
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from pyspark import SparkContext
from pyspark.sql import DataFrame as SparkDataFrame
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from spark_lgbm_tuning import lightgbm_params, trial
from spark_lgbm_tuning.lightgbm_params import LIGHTGBM_PARAMS_DOC
from spark_lgbm_tuning.pipelines.tuning.folds import fold_rows
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.scheduler import JobScheduler, SearchStats, task_slots
from spark_lgbm_tuning.pipelines.tuning.trial_store import TrialStore
from spark_lgbm_tuning.trial import TrialSpec

logger = logging.getLogger(__name__)

ParamValue = bool | int | float | str
FEATURE_PREFIX = "feature_"

# Stored outcomes a rerun reuses: they repeat for the same trial. A "timed_out" trial is reused
# only while trial_timeout_s is not raised above the limit it ran under.
REUSABLE_STATUSES = ("ok", "failed")
# Rows of the fold data LightGBM checks each grid value on before any trial runs.
VALUE_CHECK_ROWS = 200
# At ~1 ms per combination, the check stays within seconds on the largest default grid.
MAX_CHECKED_COMBINATIONS = 2000


class AllTrialsFailedError(RuntimeError):
    """Every trial of the search failed; the message carries the first errors."""


# ------------------------------------------------------------------------------ fold data


def _feature_columns(data: pd.DataFrame) -> list[str]:
    """The numeric `feature_*` columns; fails naming what is missing or not numeric."""
    if "target" not in data.columns:
        raise ValueError(
            f"The data has no `target` column (columns: {list(data.columns)[:10]}): the tuning "
            "pipeline needs the label in `target`; rename it or rerun data_generation"
        )
    features = [column for column in data.columns if str(column).startswith(FEATURE_PREFIX)]
    if not features:
        raise ValueError(
            f"The data has no `{FEATURE_PREFIX}*` columns (columns: {list(data.columns)[:10]}): "
            f"name the model's inputs {FEATURE_PREFIX}0, {FEATURE_PREFIX}1, ..."
        )
    bad = {
        str(column): str(data[column].dtype)
        for column in features
        if not (
            pd.api.types.is_numeric_dtype(data[column]) or pd.api.types.is_bool_dtype(data[column])
        )
    }
    if bad:
        raise ValueError(
            f"Feature column(s) {bad} are not numeric: LightGBM needs numbers. Encode them "
            f"(e.g. category codes) or rename them without the `{FEATURE_PREFIX}` prefix"
        )
    return features


def _check_target(
    data: pd.DataFrame, fold_rows: Mapping[int, tuple[np.ndarray, np.ndarray]], task: str
) -> None:
    """A finite target; for classification 0/1 labels and both classes in every train part."""
    if not pd.api.types.is_numeric_dtype(data["target"]) and not pd.api.types.is_bool_dtype(
        data["target"]
    ):
        raise ValueError(
            f"The target column has dtype {data['target'].dtype}: it must be numeric "
            "(0/1 for classification)"
        )
    target = data["target"].to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(target))
    if len(bad):
        raise ValueError(
            f"The target has {len(bad)} NaN or infinite value(s) (first rows {bad[:5].tolist()}): "
            "drop or fill those rows before tuning"
        )
    if task != "classification":
        return
    labels = sorted(set(np.unique(target).tolist()) - {0.0, 1.0})
    if labels:
        raise ValueError(
            f"task classification needs a 0/1 target, found values {labels[:5]}: map the "
            "classes to 0 and 1, or set tuning.task: regression"
        )
    for fold_id, (train, _) in fold_rows.items():
        classes = np.unique(target[train])
        if len(classes) < 2:
            raise ValueError(
                f"Fold {fold_id}'s training part ({len(train)} rows) has only class "
                f"{int(classes[0])}: LightGBM cannot learn a binary classifier from it. Leave "
                "the fold out (tuning.folds) or cut folds with a larger first training window"
            )


def _lightgbm_refusal(x: np.ndarray, y: np.ndarray, lgb_params: dict[str, Any]) -> str | None:
    """LightGBM's reason for refusing `lgb_params` on (x, y), or None when it accepts them."""
    try:
        lgb.Booster(lgb_params, trial.bin_train_part(x, y, lgb_params))
    except Exception as error:  # noqa: BLE001 - LightGBM raises LightGBMError or ValueError
        # Drop LightGBM's source location (" at /path/config_auto.cpp, line 352").
        return trial.error_text(error).split(" at /")[0]
    return None


def _check_grid_values(arrays: _FoldArrays, params: TuningParams) -> None:
    """Let LightGBM check the grid's combinations on a slice of the data before any Spark work.

    A value every checked combination with it is refused for (num_leaves: -1, max_bin: 1, ...)
    would only fail trials: it is named here instead. Values valid alone but not together
    (boosting: rf without bagging) still run and come back as failed trials.
    """
    train, _ = next(iter(arrays.rows.values()))
    sample = train[:VALUE_CHECK_ROWS]
    x, y = arrays.x[sample], arrays.y[sample]
    # value -> [combinations checked with it, reasons refused]
    outcomes: dict[tuple[str, str], list[Any]] = {}
    combinations = itertools.islice(params.combinations(), MAX_CHECKED_COMBINATIONS)
    for combination in combinations:
        lgb_params = {**params.lightgbm_params(combination), "num_threads": 1}
        reason = _lightgbm_refusal(x, y, lgb_params)
        for name, value in combination.items():
            if name == "num_boost_round":  # not a LightGBM parameter; validated by the model
                continue
            outcome = outcomes.setdefault((name, json.dumps(value)), [0, []])
            outcome[0] += 1
            if reason is not None:
                outcome[1].append(reason)
    for (name, value), (checked, reasons) in outcomes.items():
        if len(reasons) == checked:
            raise ValueError(
                f"tuning.grid.{name} value {value} is refused by LightGBM ({reasons[0]}): "
                f"choose values it accepts, see {LIGHTGBM_PARAMS_DOC}"
            )


class _FoldArrays:
    """The data as float32 features and float64 labels, converted once, with each fold's rows.

    Fold parts are sliced on demand (a copy per call) rather than kept, so a search holds one
    copy of the data however many folds it has.
    """

    def __init__(
        self, data: pd.DataFrame, fold_rows: Mapping[int, tuple[np.ndarray, np.ndarray]]
    ) -> None:
        self.features = _feature_columns(data)
        self.x = data[self.features].to_numpy(dtype=np.float32)
        self.y = data["target"].to_numpy(dtype=np.float64)
        self.rows = dict(fold_rows)

    def split(self, fold_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x_train, y_train, x_test, y_test) of one fold."""
        train, test = self.rows[fold_id]
        return self.x[train], self.y[train], self.x[test], self.y[test]

    def fingerprint(self, fold_id: int) -> str:
        """A digest of the fold's exact data: trial ids change whenever the data does."""
        payload: list[Any] = [self.features]
        for array in self.split(fold_id):
            payload.append(hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest())
        return trial.stable_hash(payload, length=32)


# ------------------------------------------------------------------------------ trials table


def _column_kind(values: list[Any]) -> str:
    """One parquet/Spark type for a param_<name> column: bool, long, double or string."""
    if all(isinstance(value, bool) for value in values):
        return "bool"
    if all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        return "long"
    if all(isinstance(value, int | float) and not isinstance(value, bool) for value in values):
        return "double"
    return "string"


_KIND_TO_SPARK = {
    "bool": T.BooleanType(),
    "long": T.LongType(),
    "double": T.DoubleType(),
    "string": T.StringType(),
}
_KIND_TO_PANDAS = {"bool": "boolean", "long": "Int64", "double": "Float64", "string": "string"}


def _param_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    return {"bool": bool, "long": int, "double": float, "string": str}[kind](value)


def expand_search_space(
    data: pd.DataFrame, folds: pd.DataFrame, params: TuningParams
) -> pd.DataFrame:
    """Expand fixed params x grid x folds into one row per trial, with deterministic ids.

    `combo_id` hashes the LightGBM parameters and boosting settings; `trial_id` adds the fold id
    and a fingerprint of the fold's data, so results of a changed dataset never share an id.
    """
    _feature_columns(data)  # names a missing target or bad feature column first
    rows_by_fold = fold_rows(folds, params.folds, len(data))
    _check_target(data, rows_by_fold, params.task)
    n_trials = params.n_combinations * len(rows_by_fold)
    if n_trials > params.max_trials:
        raise ValueError(
            f"tuning.max_trials={params.max_trials} but the grid has {params.n_combinations} "
            f"combinations x {len(rows_by_fold)} folds = {n_trials} trials (allowed 1..1000000): "
            "shrink tuning.grid, choose tuning.folds, or raise tuning.max_trials"
        )
    arrays = _FoldArrays(data, rows_by_fold)
    _check_grid_values(arrays, params)
    kinds = {name: _column_kind(values) for name, values in params.grid.items()}
    rows = []
    for fold_id, (train, test) in rows_by_fold.items():
        fingerprint = arrays.fingerprint(fold_id)
        for combination in params.combinations():
            lgb_params = params.lightgbm_params(combination)
            combo_payload = {
                "task": params.task,
                "params": lgb_params,
                "num_boost_round": params.rounds(combination),
                "early_stopping_rounds": params.early_stopping_rounds or None,
            }
            row = {
                "trial_id": trial.stable_hash(
                    {"combo": combo_payload, "fold_id": fold_id, "fold": fingerprint}
                ),
                "combo_id": trial.stable_hash(combo_payload),
                "fold_id": fold_id,
            }
            for name, value in combination.items():
                row[f"param_{name}"] = _param_value(value, kinds[name])
            row["params_json"] = json.dumps(lgb_params, sort_keys=True)
            row["dataset_key"] = trial.stable_hash(
                lightgbm_params.dataset_params(lgb_params), length=8
            )
            row["fold_fingerprint"] = fingerprint
            row["n_train"] = len(train)
            row["n_test"] = len(test)
            rows.append(row)
    table = pd.DataFrame(rows)
    table["fold_id"] = table["fold_id"].astype("int32")
    table[["n_train", "n_test"]] = table[["n_train", "n_test"]].astype("int64")
    for name, kind in kinds.items():
        table[f"param_{name}"] = table[f"param_{name}"].astype(_KIND_TO_PANDAS[kind])
    logger.info(
        "Search space: %d combinations x %d folds = %d trials (%d distinct trial ids)",
        params.n_combinations,
        len(rows_by_fold),
        len(table),
        table["trial_id"].nunique(),
    )
    return table


# ------------------------------------------------------------------------------ running trials


def result_schema(grid_kinds: Mapping[str, str]) -> T.StructType:
    """The explicit schema of `tuning_results`: ids, param_<name> columns, metrics, timings."""
    fields = [
        T.StructField("trial_id", T.StringType(), False),
        T.StructField("combo_id", T.StringType(), False),
        T.StructField("fold_id", T.IntegerType(), False),
    ]
    fields += [
        T.StructField(f"param_{name}", _KIND_TO_SPARK[kind], True)
        for name, kind in grid_kinds.items()
    ]
    types = {
        "params_json": T.StringType(),
        "status": T.StringType(),
        "error": T.StringType(),
        **{metric: T.DoubleType() for metric in lightgbm_params.METRICS},
        "best_iteration": T.IntegerType(),
        "n_train": T.LongType(),
        "n_test": T.LongType(),
        "data_load_s": T.DoubleType(),
        "fit_s": T.DoubleType(),
        "predict_s": T.DoubleType(),
        "peak_rss_mb": T.DoubleType(),
        "cpu_utilisation": T.DoubleType(),
        "executor_id": T.StringType(),
        "host": T.StringType(),
        "started_at": T.TimestampType(),
        "ended_at": T.TimestampType(),
        "classification_report": T.StringType(),
    }
    fields += [
        T.StructField(name, types[name], name not in {"params_json", "status"})
        for name in trial.RESULT_COLUMNS
    ]
    return T.StructType(fields)


def _check_trials(trials: pd.DataFrame, params: TuningParams) -> None:
    expected = {f"param_{name}" for name in params.grid}
    present = {column for column in trials.columns if str(column).startswith("param_")}
    if trials.empty or present != expected:
        raise ValueError(
            f"tuning_trials has param columns {sorted(present)} and {len(trials)} rows, but the "
            f"grid asks for {sorted(expected)}: run expand_search_space with the same parameters"
        )


# Shipped fold files must outlive their search: an executor fetches every file added to its
# SparkContext when it starts its next task, which may belong to a later search (or be a
# replacement executor's first task), and a missing source fails that task. They are removed
# once their SparkContext has stopped (a new one runs the next search) or when Python exits.
_SHIPPED_DIRS: dict[str, list[Path]] = {}


def _remove_shipped(keep_app_id: str | None = None) -> None:
    for app_id in [app_id for app_id in _SHIPPED_DIRS if app_id != keep_app_id]:
        for path in _SHIPPED_DIRS.pop(app_id):
            shutil.rmtree(path, ignore_errors=True)


def _shipping_dir(sc: SparkContext) -> Path:
    """A fresh folder for one search's fold files, kept while `sc` lives (see _SHIPPED_DIRS)."""
    if not _SHIPPED_DIRS:
        atexit.register(_remove_shipped)
    _remove_shipped(keep_app_id=sc.applicationId)
    workdir = Path(tempfile.mkdtemp(prefix="lgbm_tuning_"))
    _SHIPPED_DIRS.setdefault(sc.applicationId, []).append(workdir)
    return workdir


class _FoldShipper:
    """Bins each (fold, Dataset params) of a search once and ships it with addFile: the train
    part and the test part (binned with the train part's bins) as LightGBM binaries, and the
    raw test part as .npy.

    A background thread works through the folds in the order the planned task groups first
    need them: the first job starts as soon as its own fold is ready, and the other folds are
    binned while it runs (LightGBM, hashlib and file writes release the GIL) instead of keeping
    every executor idle until the last fold is binned. `prepare(group)` waits for its group's
    fold only.
    """

    def __init__(
        self, sc: SparkContext, arrays: _FoldArrays, trials: pd.DataFrame, workdir: Path
    ) -> None:
        self.sc = sc
        self.arrays = arrays
        self.workdir = workdir
        # Names carry the run token: SparkFiles is flat, and a name added twice with other
        # content is refused.
        self.token = workdir.name
        self.key_of = {
            record["trial_id"]: (int(record["fold_id"]), str(record["dataset_key"]))
            for record in trials[["trial_id", "fold_id", "dataset_key"]].to_dict("records")
        }
        first = trials.drop_duplicates(["fold_id", "dataset_key"])
        self.params_of = {
            (int(fold_id), str(key)): json.loads(params_json)
            for fold_id, key, params_json in first[
                ["fold_id", "dataset_key", "params_json"]
            ].itertuples(index=False)
        }
        self.binning_s = 0.0
        self._test_parts: dict[int, tuple[str, str]] = {}
        self._shipped: dict[tuple[int, str], Future[dict[str, str] | Exception]] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fold-shipper")

    def start(self, groups: Sequence[list[TrialSpec]]) -> None:
        """Queue every fold the groups use, in the order they first appear."""
        for group in groups:
            key = self.key_of[group[0].trial_id]
            if key not in self._shipped:
                self._shipped[key] = self._pool.submit(self._ship, key)

    def close(self) -> None:
        """Drop the folds not started yet and wait for the one being binned."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def prepare(self, group: list[TrialSpec]) -> tuple[list[TrialSpec], list[dict[str, Any]]]:
        """The group with its shipped files, or no specs and failed rows if LightGBM cannot bin
        its fold (that fails the same way every time: stored as final)."""
        key = self.key_of[group[0].trial_id]
        if key not in self._shipped:
            self._shipped[key] = self._pool.submit(self._ship, key)
        outcome = self._shipped[key].result()
        if isinstance(outcome, Exception):
            return [], [trial.failed_row(spec, outcome) for spec in group]
        return [dataclasses.replace(spec, **outcome) for spec in group], []

    def _ship(self, key: tuple[int, str]) -> dict[str, str] | Exception:
        fold_id, dataset_key = key
        x_train, y_train, x_test, y_test = self.arrays.split(fold_id)
        if fold_id not in self._test_parts:
            test_x = f"{self.token}_fold{fold_id}_test_x.npy"
            test_y = f"{self.token}_fold{fold_id}_test_y.npy"
            trial.write_test_part(x_test, y_test, self.workdir / test_x, self.workdir / test_y)
            self.sc.addFile(str(self.workdir / test_x))
            self.sc.addFile(str(self.workdir / test_y))
            self._test_parts[fold_id] = (test_x, test_y)
        test_x, test_y = self._test_parts[fold_id]
        train_bin = f"{self.token}_fold{fold_id}_train_{dataset_key}.bin"
        valid_bin = f"{self.token}_fold{fold_id}_valid_{dataset_key}.bin"
        started = time.perf_counter()
        try:
            binned = trial.bin_train_part(x_train, y_train, self.params_of[key])
            # Binned here once rather than by every executor process that runs this fold.
            valid = trial.bin_test_part(x_test, y_test, binned, self.params_of[key])
            # workdir is fresh: LightGBM's save_binary keeps (and warns about) an existing file.
            binned.save_binary(str(self.workdir / train_bin))
            valid.save_binary(str(self.workdir / valid_bin))
        except Exception as error:  # noqa: BLE001 - LightGBM's refusal becomes failed trials
            return error
        finally:
            self.binning_s += time.perf_counter() - started
        self.sc.addFile(str(self.workdir / train_bin))
        self.sc.addFile(str(self.workdir / valid_bin))
        logger.info(
            "Fold %d: %d train / %d test rows binned and shipped",
            fold_id,
            len(y_train),
            len(y_test),
        )
        return {
            "train_file": train_bin,
            "valid_file": valid_bin,
            "test_x_file": test_x,
            "test_y_file": test_y,
        }


def _cluster_shape(sc: SparkContext, rows: list[dict[str, Any]]) -> tuple[int, int]:
    """(number of executors, total cores) of the session, for the efficiency figure."""
    if sc.master.startswith("local"):
        return 1, sc.defaultParallelism
    # PySpark has no public executor list; the JVM status tracker includes the driver.
    infos = sc._jsc.sc().statusTracker().getExecutorInfos()
    n_executors = max(len(infos) - 1, len({row["executor_id"] for row in rows}))
    cores = sc.getConf().get("spark.executor.cores")
    total_cores = n_executors * int(cores) if cores else sc.defaultParallelism
    return n_executors, total_cores


def _trial_specs(
    trials: pd.DataFrame, params: TuningParams, *, task_cpus: int, run_token: str
) -> list[TrialSpec]:
    """Specs of the trials to run (trial.plan_tasks orders them; the shipper adds the files)."""
    return [
        TrialSpec(
            trial_id=record["trial_id"],
            combo_id=record["combo_id"],
            fold_id=int(record["fold_id"]),
            task=params.task,
            params={**json.loads(record["params_json"]), "num_threads": task_cpus},
            grid_names=tuple(params.grid),
            num_boost_round=int(record.get("param_num_boost_round", params.num_boost_round)),
            early_stopping_rounds=params.early_stopping_rounds,
            primary_metric=params.primary_metric,
            run_token=run_token,
            n_train=int(record["n_train"]),
            timeout_s=params.trial_timeout_s,
        )
        for record in trials.to_dict("records")
    ]


_TO_PYTHON = {
    T.IntegerType: int,
    T.LongType: int,
    T.DoubleType: float,
    T.BooleanType: bool,
    T.StringType: str,
    T.TimestampType: lambda value: pd.Timestamp(value).to_pydatetime(),
}


def _is_missing(value: Any) -> bool:
    """None, NaN, NaT or pd.NA (what a parquet round trip makes of a missing value)."""
    return value is None or (not isinstance(value, str | bytes | list | dict) and pd.isna(value))


def _spark_value(value: Any, data_type: T.DataType) -> Any:
    """A stored or computed value as the Python type Spark's `data_type` takes (None for NA).

    Rows read back from the trial store hold numpy/pandas values (NaN for a missing int).
    """
    if _is_missing(value):
        return None
    convert = _TO_PYTHON.get(type(data_type))
    return value if convert is None else convert(value)


def _results_frame(
    spark: SparkSession, rows: list[dict[str, Any]], params: TuningParams
) -> SparkDataFrame:
    kinds = {name: _column_kind(list(values)) for name, values in params.grid.items()}
    schema = result_schema(kinds)
    records = []
    for row in rows:
        for name, kind in kinds.items():
            # Reused rows take these from tuning_trials, where a missing value is pd.NA.
            value = row[f"param_{name}"]
            row[f"param_{name}"] = None if _is_missing(value) else _param_value(value, kind)
        records.append(
            tuple(_spark_value(row.get(field.name), field.dataType) for field in schema.fields)
        )
    return spark.createDataFrame(records, schema=schema)


# ------------------------------------------------------------------------------ resume


def _store_row(row: Mapping[str, Any], timeout_s: float | None) -> dict[str, Any]:
    """What the trial store keeps of a result row: everything but the param_<name> columns.

    Those follow the current grid (a value fixed in one search is a grid axis in the next), so
    they are rebuilt from tuning_trials when the row is reused.
    """
    kept = {key: value for key, value in row.items() if not key.startswith("param_")}
    kept["trial_timeout_s"] = timeout_s
    return kept


def _reusable_rows(
    store: TrialStore | None, trials: pd.DataFrame, params: TuningParams
) -> dict[str, dict[str, Any]]:
    """trial_id -> result row of the current trials the store already holds a final result for."""
    if store is None or not params.resume:
        return {}
    stored = store.load(trials["trial_id"])
    if stored.empty:
        return {}
    status = stored["status"].astype(str)
    reuse = status.isin(REUSABLE_STATUSES)
    if params.trial_timeout_s is not None and "trial_timeout_s" in stored:
        ran_under = pd.to_numeric(stored["trial_timeout_s"], errors="coerce")
        reuse |= (status == "timed_out") & (ran_under >= params.trial_timeout_s)
    stored = stored[reuse].set_index("trial_id")
    rows = {}
    for record in trials[trials["trial_id"].isin(stored.index)].to_dict("records"):
        found = stored.loc[record["trial_id"]]
        row = {key: record[key] for key in ("trial_id", "combo_id", "fold_id")}
        row.update({f"param_{name}": record[f"param_{name}"] for name in params.grid})
        row.update({column: found.get(column) for column in trial.RESULT_COLUMNS})
        rows[record["trial_id"]] = row
    return rows


def _check_fingerprints(arrays: _FoldArrays, trials: pd.DataFrame) -> None:
    """Fail when tuning_trials was expanded from other data than `arrays` (any of its folds)."""
    for fold_id in arrays.rows:
        expected = set(trials.loc[trials["fold_id"] == fold_id, "fold_fingerprint"])
        if expected != {arrays.fingerprint(fold_id)}:
            raise ValueError(
                f"tuning_trials was expanded from other data for fold {fold_id} (fingerprint "
                "mismatch): rerun expand_search_space on the current data and folds"
            )


def _run_missing(
    sc: SparkContext,
    arrays: _FoldArrays,
    to_run: pd.DataFrame,
    *,
    params: TuningParams,
    progress: _Progress,
    task_cpus: int,
) -> tuple[SearchStats, float, float]:
    """Bin and ship the folds of `to_run`, run its trials; returns (stats, binning s, job s)."""
    workdir = _shipping_dir(sc)
    shipper = _FoldShipper(sc, arrays, to_run, workdir)
    try:
        specs = _trial_specs(to_run, params, task_cpus=task_cpus, run_token=workdir.name)
        groups = trial.plan_tasks(specs)
        shipper.start(groups)
        logger.info(
            "Running %d trials as %d Spark jobs on %s (%d task slots now), %d LightGBM "
            "thread(s) per trial (spark.task.cpus)%s",
            len(specs),
            len(groups),
            sc.master,
            task_slots(sc, task_cpus),
            task_cpus,
            f", trial_timeout_s={params.trial_timeout_s:g}" if params.trial_timeout_s else "",
        )
        job_started = time.perf_counter()
        scheduler = JobScheduler(
            sc,
            run_token=workdir.name,
            task_cpus=task_cpus,
            on_rows=progress.add,
            prepare=shipper.prepare,
            timeout_s=params.trial_timeout_s,
            progress=progress.log,
            progress_interval_s=params.progress_interval_s,
        )
        stats = scheduler.run(groups)
        progress.log()
        return stats, shipper.binning_s, time.perf_counter() - job_started
    finally:
        shipper.close()


class _Progress:
    """Counts the rows of this run as they arrive; logs done/failed/ETA/best on demand."""

    def __init__(self, params: TuningParams, total: int, store: TrialStore | None) -> None:
        self.params = params
        self.total = total
        self.store = store
        self.rows: list[dict[str, Any]] = []
        self.started = time.perf_counter()

    def add(self, rows: list[dict[str, Any]], durable: bool) -> None:
        self.rows.extend(rows)
        if durable and self.store is not None:
            self.store.append(_store_row(row, self.params.trial_timeout_s) for row in rows)

    def log(self) -> None:
        done = len(self.rows)
        failed = sum(row["status"] != "ok" for row in self.rows)
        scores = [trial.primary_score(row, self.params.primary_metric) for row in self.rows]
        scores = [score for score in scores if score is not None]
        best = (max if self.params.higher_is_better else min)(scores) if scores else None
        elapsed = time.perf_counter() - self.started
        eta = f"{elapsed / done * (self.total - done):.0f} s" if done else "n/a"
        logger.info(
            "Trials %d/%d done (%d failed), elapsed %.0f s, ETA %s, best %s so far: %s",
            done,
            self.total,
            failed,
            elapsed,
            eta,
            self.params.primary_metric,
            "n/a" if best is None else f"{best:.5f}",
        )


def run_trials(
    data: pd.DataFrame,
    folds: pd.DataFrame,
    trials: pd.DataFrame,
    params: TuningParams,
    trial_store: TrialStore | None = None,
) -> tuple[SparkDataFrame, dict[str, Any]]:
    """Run the trials the trial store lacks, one Spark job per task group; return all results.

    Each result is appended to `trial_store` as it reaches the driver, so an interrupted run
    keeps its finished trials and the next one (with `resume: true`) runs only the rest. LightGBM
    uses spark.task.cpus threads per trial. Returns every trial's result (reused and new) as a
    Spark DataFrame with an explicit schema, and the run's info (cluster shape, wall time,
    efficiency, trials reused and run, executors lost).
    """
    spark = SparkSession.getActiveSession()
    if spark is None:
        raise RuntimeError(
            "run_trials needs an active SparkSession: run it through Kedro (SparkHooks builds "
            "one from conf/<env>/spark.yml) or create one before calling it"
        )
    _check_trials(trials, params)
    fold_ids = sorted(int(fold_id) for fold_id in trials["fold_id"].unique())
    arrays = _FoldArrays(data, fold_rows(folds, fold_ids, len(data)))
    _check_fingerprints(arrays, trials)
    sc = spark.sparkContext
    task_cpus = int(sc.getConf().get("spark.task.cpus", "1"))
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    reused = _reusable_rows(trial_store, trials, params)
    to_run = trials[~trials["trial_id"].isin(reused)]
    if trial_store is not None and not params.resume:
        logger.info(
            "tuning.resume is false: running all %d trials again (the trial store keeps the "
            "newest result of each)",
            len(trials),
        )
    logger.info(
        "Trial store %s: %d of %d trials reused, %d to run",
        trial_store.path if trial_store is not None else "not used",
        len(reused),
        len(trials),
        len(to_run),
    )
    progress = _Progress(params, len(to_run), trial_store)
    stats, binning_s, job_s = SearchStats(), 0.0, 0.0
    if not to_run.empty:
        stats, binning_s, job_s = _run_missing(
            sc, arrays, to_run, params=params, progress=progress, task_cpus=task_cpus
        )
    wall_s = time.perf_counter() - started
    ended_at = datetime.now(UTC)
    if trial_store is not None:
        merged = trial_store.compact()
        logger.info("Trial store %s: %d batch file(s) compacted", trial_store.path, merged)

    new_rows = {row["trial_id"]: row for row in progress.rows}
    by_id = {**reused, **new_rows}
    # Report in the trials table's order, not the execution order; one row per trial.
    rows = [by_id[trial_id] for trial_id in trials["trial_id"] if trial_id in by_id]

    failed = [row for row in rows if row["status"] != "ok"]
    for row in [row for row in failed if row["trial_id"] in new_rows][:5]:
        logger.warning(
            "Trial %s (fold %d) %s: %s",
            row["trial_id"],
            row["fold_id"],
            "timed out" if row["status"] == "timed_out" else "failed",
            row["error"],
        )
    if len(failed) == len(rows):
        first = "; ".join(sorted({str(row["error"]) for row in failed})[:3])
        raise AllTrialsFailedError(f"All {len(rows)} trials failed. First errors: {first}")

    new = list(new_rows.values())
    n_executors, total_cores = _cluster_shape(sc, new or rows)
    sum_fit_s = float(sum(row["fit_s"] or 0.0 for row in new))
    scores = [trial.primary_score(row, params.primary_metric) for row in rows]
    scores = [score for score in scores if score is not None]
    best = max if params.higher_is_better else min
    run_info = {
        "task": params.task,
        "spark_master": sc.master,
        "app_id": sc.applicationId,
        "n_executors": n_executors,
        "total_cores": total_cores,
        "task_cpus": task_cpus,
        "wall_s": wall_s,
        "binning_s": binning_s,
        "job_s": job_s,
        "started_at": started_at.isoformat(),
        "ended_at": ended_at.isoformat(),
        "n_trials": len(rows),
        "n_ok": len(rows) - len(failed),
        "n_failed": sum(row["status"] == "failed" for row in rows),
        "n_timed_out": sum(row["status"] == "timed_out" for row in rows),
        "n_reused": len(reused),
        "n_run": len(new),
        "resume": params.resume,
        "trial_timeout_s": params.trial_timeout_s,
        "executors_lost": stats.executors_lost,
        # Fit seconds of the trials run now (reused trials cost nothing in this run).
        "sum_fit_s": sum_fit_s,
        "efficiency": sum_fit_s / (wall_s * total_cores),
        "primary_metric": params.primary_metric,
        "best_primary_metric": best(scores) if scores else None,
    }
    logger.info(
        "Search done: %d/%d trials ok (%d reused, %d run) in %.1f s on %d cores; sum fit "
        "%.1f s, efficiency %.2f",
        run_info["n_ok"],
        run_info["n_trials"],
        run_info["n_reused"],
        run_info["n_run"],
        wall_s,
        total_cores,
        sum_fit_s,
        run_info["efficiency"],
    )
    return _results_frame(spark, rows, params), run_info
