"""Hand-made inputs for the reporting tests: a small results table with known numbers, small data.

Module-scoped (figures and the refit take a moment): tests derive new frames, never mutate these.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from spark_lgbm_tuning.executor.fold_data import fold_from_arrays
from spark_lgbm_tuning.executor.trial import run_trial
from spark_lgbm_tuning.executor.trial_spec import TrialSpec
from spark_lgbm_tuning.pipelines.reporting.nodes import (
    rank_combinations,
    refit_best_model,
    select_best_params,
)
from spark_lgbm_tuning.pipelines.reporting.params import ReportingParams
from spark_lgbm_tuning.pipelines.reporting.predictions import select_test_predictions
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.predictions import PredictionBuffer
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from spark_lgbm_tuning.vocabulary.search_id import SEARCH_ID

N_ROWS = 400
N_FEATURES = 5
#: params:columns as conf/base/parameters.yml sets it, and every column renamed.
COLUMNS = ColumnParams()
RENAMED = ColumnParams(target="label", feature_prefix="x_", time="ts")
XSS = "<script>alert('x')</script>"
FIXED_PARAMS = {"objective": "binary", "verbosity": -1, "seed": 7, "deterministic": True}


def make_trial(combo_id: str, fold_id: int, grid: dict, status: str = "ok", **values) -> dict:
    """One row of tuning_results as the contract describes it; `values` overrides metrics etc."""
    lgb_params = {**FIXED_PARAMS, **grid}
    row = {
        "trial_id": f"{combo_id}-f{fold_id}",
        "combo_id": combo_id,
        "fold_id": fold_id,
        "task": "classification",
        **{f"param_{name}": value for name, value in grid.items()},
        "params_json": json.dumps(lgb_params, sort_keys=True),
        "status": status,
        "error": None if status == "ok" else f"{status}: LightGBMError on fold {fold_id}",
        "accuracy": None,
        "precision": None,
        "recall": None,
        "f1": None,
        "auc_roc": None,
        "logloss": None,
        "rmse": None,
        "mae": None,
        "r2": None,
        "best_iteration": None,
        "n_train": 100 + 100 * fold_id,
        "n_test": 60,
        "data_load_s": 0.01,
        "fit_s": None,
        "predict_s": 0.001,
        "peak_rss_mb": 300.0 + fold_id,
        "cpu_utilisation": 0.9,
        "executor_id": str(fold_id % 2),
        "host": "127.0.0.1",
        "started_at": pd.Timestamp("2026-11-25 10:00:00") + pd.Timedelta(seconds=fold_id),
        "ended_at": pd.Timestamp("2026-11-25 10:00:02") + pd.Timedelta(seconds=fold_id),
        "classification_report": None,
    }
    row.update(values)
    return row


@pytest.fixture(scope="module")
def params() -> ReportingParams:
    # One refit thread: OpenMP threads on a busy 2-core test machine mostly wait for each other.
    return ReportingParams(refit_num_threads=1)


@pytest.fixture(scope="module")
def results(model_input, model_folds) -> pd.DataFrame:
    """Three combinations x three folds with metrics chosen so the aggregates are easy by hand.

    c_a: auc 0.70, 0.80, 0.90 -> mean 0.80, std 0.10; logloss 0.50, 0.40, 0.30 -> mean 0.40
    c_b: auc 0.85, 0.87, failed -> mean 0.86, std sqrt(0.0002); logloss 0.35, 0.33 -> mean 0.34
    c_c: auc 0.60, 0.62, 0.64 -> mean 0.62, std 0.02; logloss 0.60, 0.58, 0.62 -> mean 0.60
    best_iteration of c_b: 40 and 51 -> median 45.5 -> 46 rounds.
    """
    rows = []
    specs = {
        "c_a": ({"num_leaves": 15, "learning_rate": 0.1}, [0.70, 0.80, 0.90], [0.50, 0.40, 0.30]),
        "c_b": ({"num_leaves": 31, "learning_rate": 0.1}, [0.85, 0.87, None], [0.35, 0.33, None]),
        "c_c": ({"num_leaves": 31, "learning_rate": 0.01}, [0.60, 0.62, 0.64], [0.60, 0.58, 0.62]),
    }
    iterations = {"c_a": [10, 20, 30], "c_b": [40, 51, None], "c_c": [90, 95, 100]}
    for combo_id, (grid, aucs, loglosses) in specs.items():
        for fold_id, (auc, logloss) in enumerate(zip(aucs, loglosses, strict=True)):
            if auc is None:
                rows.append(make_trial(combo_id, fold_id, grid, status="failed", fit_s=0.2))
                continue
            rows.append(
                make_trial(
                    combo_id,
                    fold_id,
                    grid,
                    auc_roc=auc,
                    logloss=logloss,
                    accuracy=auc - 0.1,
                    best_iteration=iterations[combo_id][fold_id],
                    fit_s=1.0 + fold_id,
                )
            )
    return with_fingerprints(pd.DataFrame(rows), model_input, model_folds)


@pytest.fixture(scope="module")
def model_input() -> pd.DataFrame:
    """400 daily rows; the target depends mostly on feature_0, a little on feature_1."""
    rng = np.random.default_rng(11)
    features = rng.normal(size=(N_ROWS, N_FEATURES)).astype(np.float32)
    logits = 2.5 * features[:, 0] + 0.5 * features[:, 1]
    target = (logits + rng.normal(scale=0.5, size=N_ROWS) > 0).astype(np.int64)
    frame = pd.DataFrame(features, columns=[f"feature_{i}" for i in range(N_FEATURES)])
    frame.insert(0, "date", pd.date_range("2024-01-01", periods=N_ROWS, freq="D"))
    frame["target"] = target
    return frame


@pytest.fixture(scope="module")
def model_folds() -> pd.DataFrame:
    """Three expanding folds over rows 0..359; rows 360..399 belong to no fold."""
    parts = []
    for fold_id, train_end in enumerate((120, 240, 300)):
        test_end = train_end + 60
        for split, rows in (("train", range(train_end)), ("test", range(train_end, test_end))):
            parts.append(
                pd.DataFrame(
                    {
                        "fold_id": np.int32(fold_id),
                        "split": split,
                        "row": np.arange(rows.start, rows.stop, dtype=np.int64),
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def fold_summary() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "fold_id": [0, 1, 2],
            "n_train": [120, 240, 300],
            "n_test": [60, 60, 60],
            "train_start": ["2024-01-01"] * 3,
            "test_end": ["2024-07-19", "2024-11-16", "2025-01-15"],
        }
    )


@pytest.fixture(scope="module")
def run_info() -> dict:
    return {
        "spark_master": "local[2]",
        "app_id": "local-1764064800000",
        "n_executors": 1,
        "total_cores": 2,
        "task_cpus": 1,
        "wall_s": 10.0,
        "started_at": "2026-11-25T10:00:00",
        "ended_at": "2026-11-25T10:00:10",
        "n_trials": 9,
        "n_ok": 8,
        "n_failed": 1,
        "sum_fit_s": 15.0,
        "efficiency": 0.75,
    }


@pytest.fixture(scope="module")
def tuning_params() -> TuningParams:
    """params:tuning as Kedro passes it: the validated model; its primary_metric ranks."""
    return TuningParams(
        task="classification",
        primary_metric="auc_roc",
        fixed=dict(FIXED_PARAMS),
        grid={"num_leaves": [15, 31], "learning_rate": [0.01, 0.1]},
        early_stopping_rounds=20,
        num_boost_round=200,
    )


def tuning_with(tuning_params: TuningParams, **update) -> TuningParams:
    """A copy with `update` applied and validated again (model_copy would skip validation)."""
    return TuningParams.model_validate({**tuning_params.model_dump(), **update})


def renamed(data: pd.DataFrame) -> pd.DataFrame:
    """`data` with COLUMNS' names replaced by RENAMED's (date -> ts, feature_i -> x_i, ...)."""
    names = {COLUMNS.time: RENAMED.time, COLUMNS.target: RENAMED.target}
    return data.rename(
        columns=lambda c: names.get(c, c.replace(COLUMNS.feature_prefix, RENAMED.feature_prefix))
    )


def kept_predictions(
    results: pd.DataFrame, data: pd.DataFrame, folds: pd.DataFrame, tuning: TuningParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(`tuning_predictions`, `tuning_learning_curves`) as a search keeps them for `results`:
    each ok trial run by trial.py on the driver with its recorded parameters (its metrics
    replaced by the hand-made ones, which rank), kept by the search's PredictionBuffer."""
    arrays = FoldArrays(data, fold_rows(folds, None, len(data)), COLUMNS)
    buffer = PredictionBuffer(tuning, arrays)
    for record in results[results["status"] == "ok"].to_dict("records"):
        spec = TrialSpec(
            trial_id=record["trial_id"],
            combo_id=record["combo_id"],
            fold_id=int(record["fold_id"]),
            task=tuning.task,
            params={**json.loads(record["params_json"]), "num_threads": 1},
            grid_values={},
            num_boost_round=tuning.num_boost_round,
            early_stopping_rounds=tuning.early_stopping_rounds,
        )
        row = run_trial(spec, fold_from_arrays(*arrays.split(spec.fold_id), spec.params))
        buffer.add([{**row, tuning.primary_metric: record[tuning.primary_metric]}])
    return buffer.frames(buffer.leaders(results.to_dict("records")))


def one_search(run_info: dict, *tables: pd.DataFrame, search_id: str = "s1") -> tuple:
    """`run_info` and `tables` (results, predictions, curves) as one run of the search writes
    them: each carrying its search id."""
    stamped = [table.copy() for table in tables]
    for table in stamped:
        table.attrs[SEARCH_ID] = search_id
    return ({**run_info, SEARCH_ID: search_id}, *stamped)


def with_fingerprints(results: pd.DataFrame, data: pd.DataFrame, folds: pd.DataFrame):
    """`results` with the fingerprint of each row's fold on `data` and `folds` (as a search
    records it)."""
    arrays = FoldArrays(data, fold_rows(folds, None, len(data)), COLUMNS)
    return results.assign(
        fold_fingerprint=[arrays.fingerprint(int(fold_id)) for fold_id in results["fold_id"]]
    )


@pytest.fixture(scope="module")
def environment() -> dict:
    """run_environment as RunEnvironmentDataset loads it."""
    return {
        "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "git_dirty": True,
        "kedro_env": "docker",
        "python": "3.11.2",
        "packages": {"kedro": "1.7.0", "lightgbm": "4.7.0", "plotly": "7.1.0"},
    }


@pytest.fixture(scope="module")
def outputs(results, tuning_params, model_input, model_folds, params) -> dict:
    """Every reporting output the report needs, from the hand-made inputs."""
    # A failed trial whose error text is hostile HTML: the report must show it, escaped.
    results = results.copy()
    results.loc[results["status"] == "failed", "error"] = f"Traceback: boom {XSS}"
    board, _ = rank_combinations(results, tuning_params, params)
    best = select_best_params(board, results, tuning_params, params)
    model, importance = refit_best_model(best, model_input, model_folds, COLUMNS, params)
    kept, kept_curves = kept_predictions(results, model_input, model_folds, tuning_params)
    predictions, curves = select_test_predictions(best, kept, kept_curves, tuning_params)
    return {
        "results": results,
        "tuning_predictions": kept,
        "tuning_learning_curves": kept_curves,
        "test_predictions": predictions,
        "learning_curves": curves,
        "leaderboard": board,
        "best_params": best,
        "refit_model": model,
        "feature_importance": importance,
    }


# ------------------------------------------------------------------------------------ regression
@pytest.fixture(scope="module")
def regression_tuning() -> TuningParams:
    return TuningParams(
        task="regression",
        primary_metric="rmse",
        fixed={"objective": "regression", "verbosity": -1, "seed": 7, "deterministic": True},
        grid={"num_leaves": [7, 15]},
        num_boost_round=40,
    )


@pytest.fixture(scope="module")
def regression_data() -> pd.DataFrame:
    """300 rows; the target is 3 x feature_0 - feature_1 plus a little noise; KFold-like folds."""
    rng = np.random.default_rng(5)
    features = rng.normal(size=(300, 3)).astype(np.float32)
    frame = pd.DataFrame(features, columns=[f"feature_{i}" for i in range(3)])
    frame["target"] = 3 * features[:, 0] - features[:, 1] + rng.normal(scale=0.1, size=300)
    frame["fold_id"] = np.arange(300, dtype=np.int32) % 3
    return frame


@pytest.fixture(scope="module")
def regression_folds(regression_data) -> pd.DataFrame:
    """Fold k tests the rows with fold_id k and trains on the others."""
    fold_id = regression_data["fold_id"].to_numpy()
    parts = [
        pd.DataFrame({"fold_id": np.int32(k), "split": split, "row": np.flatnonzero(rows)})
        for k in range(3)
        for split, rows in (("train", fold_id != k), ("test", fold_id == k))
    ]
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def regression_results(regression_tuning, regression_data, regression_folds) -> pd.DataFrame:
    """Two combinations x three folds: num_leaves 15 has the lower RMSE."""
    rows = [
        make_trial(
            f"r_{leaves}",
            fold,
            {"num_leaves": leaves},
            task="regression",
            params_json=json.dumps({**regression_tuning.fixed, "num_leaves": leaves}),
            rmse=rmse + 0.01 * fold,
            mae=rmse / 2,
            r2=0.9,
            fit_s=1.0,
            best_iteration=30 + fold,
        )
        for leaves, rmse in ((7, 0.5), (15, 0.3))
        for fold in range(3)
    ]
    return with_fingerprints(pd.DataFrame(rows), regression_data, regression_folds)
