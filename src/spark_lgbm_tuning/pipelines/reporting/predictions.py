"""Out-of-fold predictions of the best combination and its learning curves.

Each fold's test part is predicted by a model fitted on that fold's train part with the
parameters its trial recorded (`params_json`) and the trial's own best iteration, so the
predictions are the ones the leaderboard's scores came from. Each fit also records the test
part's validation metric per round (`lgb.record_evaluation`): the learning curves.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from spark_lgbm_tuning.columns import ColumnParams, feature_columns, target_values
from spark_lgbm_tuning.lightgbm_params import model_params
from spark_lgbm_tuning.pipelines.tuning.folds import FOLD_COLUMNS, fold_rows

# A runtime import, not TYPE_CHECKING: Kedro reads the node type hints to validate params:tuning.
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams

from .params import ReportingParams
from .results import OK, PARAM_PREFIX, ReportingError, require_rows

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = ["fold_id", "row", "actual", "predicted"]
CURVE_COLUMNS = ["fold_id", "round", "metric", "value", "best_iteration"]


def best_trials(best_params: dict[str, Any], tuning_results: pd.DataFrame) -> pd.DataFrame:
    """The ok trials of best_params' combination, one per fold, sorted by fold."""
    require_rows(tuning_results, "tuning_results", ("combo_id", "fold_id", "status"))
    try:
        combo_id = best_params["selection"]["combo_id"]
    except (KeyError, TypeError) as error:
        raise ReportingError(f"best_params lacks selection.combo_id ({error!r}).") from error
    trials = tuning_results[
        (tuning_results["combo_id"] == combo_id) & (tuning_results["status"] == OK)
    ]
    if trials.empty:
        raise ReportingError(
            f"tuning_results has no ok trial of the best combination {combo_id!r}: "
            "best_params and the results do not belong together; rerun the reporting pipeline."
        )
    return trials.drop_duplicates("fold_id").sort_values("fold_id")


def _fold_settings(
    trial: pd.Series, tuning: TuningParams, params: ReportingParams
) -> tuple[dict, int, int | None]:
    """(LightGBM params, rounds to train, best iteration to predict with) of one trial."""
    lgb_params = model_params(json.loads(trial["params_json"]))
    lgb_params["verbosity"] = -1
    if params.refit_num_threads:
        lgb_params["num_threads"] = params.refit_num_threads
    cap = trial.get(f"{PARAM_PREFIX}num_boost_round")
    cap = int(cap) if pd.notna(cap) else tuning.num_boost_round
    best = pd.to_numeric(trial.get("best_iteration"), errors="coerce")
    best = int(best) if pd.notna(best) and best > 0 else None
    rounds = cap
    if best is not None and tuning.early_stopping_rounds:
        # As far as the trial boosted: its best round plus the patience that stopped it.
        rounds = min(cap, best + tuning.early_stopping_rounds)
    return lgb_params, rounds, best


def _fit_fold(
    settings: tuple[dict, int, int | None],
    x: pd.DataFrame,
    y: np.ndarray,
    rows: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, dict[str, list[float]]]:
    """(test-part predictions at the best iteration, test metric per round) of one fold."""
    lgb_params, rounds, best = settings
    train, test = rows
    train_set = lgb.Dataset(x.iloc[train], label=y[train])
    test_set = lgb.Dataset(x.iloc[test], label=y[test], reference=train_set)
    history: dict[str, dict[str, list[float]]] = {}
    booster = lgb.train(
        lgb_params,
        train_set,
        num_boost_round=rounds,
        valid_sets=[test_set],
        valid_names=["test"],
        callbacks=[lgb.record_evaluation(history)],
    )
    return booster.predict(x.iloc[test], num_iteration=best), history.get("test", {})


def _curve_rows(fold_id: int, curves: dict[str, list[float]], best: int | None) -> pd.DataFrame:
    frames = [
        pd.DataFrame(
            {
                "fold_id": fold_id,
                "round": np.arange(1, len(values) + 1),
                "metric": metric,
                "value": np.asarray(values, dtype=float),
                "best_iteration": best if best is not None else len(values),
            }
        )
        for metric, values in curves.items()
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CURVE_COLUMNS)


def predict_test_parts(
    *,
    best_params: dict[str, Any],
    tuning_results: pd.DataFrame,
    timeseries_data: pd.DataFrame,
    timeseries_folds: pd.DataFrame,
    tuning_params: TuningParams,
    columns: ColumnParams,
    params: ReportingParams,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Out-of-fold predictions and learning curves of the best combination.

    Per fold the combination finished ok: fit the fold's train part with the trial's recorded
    parameters, for as many rounds as the trial boosted (its best iteration plus the early
    stopping patience, at most its round cap), and predict the test part at the trial's best
    iteration. Returns `test_predictions`, one row per (fold_id, row) of those test parts:
    `actual`, `predicted` (P(class 1) for classification) and, for regression, `residual`
    (actual - predicted); and `learning_curves`: the test part's metric per round and fold.
    """
    trials = best_trials(best_params, tuning_results)
    require_rows(timeseries_data, "timeseries_data")
    require_rows(timeseries_folds, "timeseries_folds", FOLD_COLUMNS)
    actual = target_values(timeseries_data, columns)
    x = timeseries_data[feature_columns(timeseries_data, columns)]
    rows = fold_rows(timeseries_folds, None, len(timeseries_data))
    predictions, curves = [], []
    for _, trial in trials.iterrows():
        fold_id = int(trial["fold_id"])
        if fold_id not in rows:
            raise ReportingError(f"Fold {fold_id} of tuning_results is not in the fold table.")
        settings = _fold_settings(trial, tuning_params, params)
        predicted, history = _fit_fold(settings, x, actual, rows[fold_id])
        test = rows[fold_id][1]
        predictions.append(
            pd.DataFrame(
                {"fold_id": fold_id, "row": test, "actual": actual[test], "predicted": predicted}
            )
        )
        curves.append(_curve_rows(fold_id, history, settings[2]))
    frame = pd.concat(predictions, ignore_index=True)
    if tuning_params.task == "regression":
        frame["residual"] = frame["actual"] - frame["predicted"]
    skipped = sorted(set(rows) - set(trials["fold_id"].astype(int)))
    logger.info(
        "Predicted %d test rows of %d folds with the best combination%s",
        len(frame),
        len(trials),
        f" (folds {skipped} skipped: not ok or not searched)" if skipped else "",
    )
    return frame, pd.concat(curves, ignore_index=True)
