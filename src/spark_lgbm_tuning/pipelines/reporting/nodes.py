"""Reporting nodes: rank the tuning trials, pick the best combination and refit it (its
out-of-fold predictions are in predictions.py).

Every node is pure: DataFrames, dicts and the typed `params:tuning`, `params:columns` and
`params:reporting` models in, DataFrames, dicts and strings out; the catalog does all file I/O.
The primary metric is `tuning.primary_metric` with its direction from `HIGHER_IS_BETTER`, the
setting and table the search ranks by, so the report cannot rank by another metric.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from pyspark.sql import SparkSession

from spark_lgbm_tuning.executor.trial import fit_model
from spark_lgbm_tuning.pipelines.tuning.folds import (
    FOLD_COLUMNS,
    FoldArrays,
    covered_rows,
)

# A runtime import, not TYPE_CHECKING: Kedro reads the node type hints to validate params:tuning.
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from spark_lgbm_tuning.vocabulary.lightgbm_params import (
    DATA_DERIVED_PARAMS,
    HIGHER_IS_BETTER,
    model_params,
)
from spark_lgbm_tuning.vocabulary.statuses import OK, PRUNED
from spark_lgbm_tuning.vocabulary.trial_columns import COMBO_ID, PARAM_PREFIX, STATUS

from .params import ReportingParams
from .refit import fit_on_executor, refit_session
from .results import (
    ReportingError,
    direction,
    metrics_with_values,
    ok_fold_stats,
    param_columns,
    plain,
    require_rows,
    truncate,
    validated_results,
)

# best_params' key for what the model input set (not part of the `tuning` block to paste).
DATA_PARAMS_KEY = "data_params"
logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------- ranking
def _aggregate(results: pd.DataFrame, metrics: list[str], params: list[str]) -> pd.DataFrame:
    """Per combination: fold counts, mean and std of each metric over ok folds, its grid values,
    and whether it was fully evaluated (a row on every fold of the search, none pruned)."""
    ok = results[results[STATUS] == OK]
    by_combo = results.groupby(COMBO_ID, sort=True)
    board = pd.DataFrame(
        {
            "n_folds": by_combo.size(),
            "n_ok": by_combo[STATUS].agg(lambda status: int((status == OK).sum())),
            "n_pruned": by_combo[STATUS].agg(lambda status: int((status == PRUNED).sum())),
        }
    )
    board["n_failed"] = board["n_folds"] - board["n_ok"] - board["n_pruned"]
    n_search_folds = results["fold_id"].nunique()
    board["fully_evaluated"] = (board["n_folds"] == n_search_folds) & (board["n_pruned"] == 0)
    board = board.join(ok_fold_stats(results, metrics))
    ok_by_combo = ok.groupby(COMBO_ID, sort=True)
    board["fit_s_mean"] = ok_by_combo["fit_s"].mean()
    board["best_iteration_median"] = ok_by_combo["best_iteration"].median()
    if params:
        board = board.join(by_combo[params].first())
    return board


def _ranked(board: pd.DataFrame, primary: str, tie_decimals: int) -> pd.DataFrame:
    """`board` sorted best first (see rank_combinations), with a 1-based `rank` column."""
    rounded = board[f"{primary}_mean"].round(tie_decimals)
    sort_keys = pd.DataFrame(
        {
            "metric": (-rounded if HIGHER_IS_BETTER[primary] else rounded).fillna(np.inf),
            "n_failed": board["n_failed"],
            "std": board[f"{primary}_std"].round(tie_decimals).fillna(np.inf),
            "combo_key": board.index.astype(str),
        },
        index=board.index,
    )
    order = sort_keys.sort_values(
        ["metric", "n_failed", "std", "combo_key"], kind="mergesort"
    ).index
    board = board.loc[order].reset_index()
    board.insert(0, "rank", np.arange(1, len(board) + 1))
    return board


def rank_combinations(
    tuning_results: pd.DataFrame, tuning_params: TuningParams, params: ReportingParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per combination, ranked by tuning.primary_metric's mean over its ok folds.

    Only fully evaluated combinations are ranked: one with a pruned fold, or with no row for a
    fold of the search (an adaptive search stopped it), is left out. Per metric with values:
    mean and sample std (ddof=1; NaN with one fold) over ok folds where it
    is defined. Failed and timed-out trials count in `n_failed`, never in the metrics. Order:
    primary mean (by its direction), then fewer failed folds, then lower std of the primary metric
    (NaN last), then `combo_id` ascending. Mean and std are compared rounded to `tie_decimals`, so
    sums that differ only in the last bits (row order) tie, and the order is deterministic.
    Returns the leaderboard twice: full precision (parquet) and rounded to 6 decimals (CSV).
    """
    primary = tuning_params.primary_metric
    results = validated_results(tuning_results, tuning_params)
    grid_columns = param_columns(results)
    board = _aggregate(results, metrics_with_values(results, primary), grid_columns)
    left_out = int((~board["fully_evaluated"]).sum())
    board = board[board["fully_evaluated"]].drop(columns=["fully_evaluated", "n_pruned"])
    if board.empty:
        raise ReportingError(
            f"None of the {left_out} combinations in tuning_results was evaluated on every fold "
            "(pruned or stopped early): nothing to rank. Give the search a larger budget."
        )
    if left_out:
        logger.info(
            "Ranking the %d fully evaluated combinations; %d pruned or partly run are left out",
            len(board),
            left_out,
        )
    board = _ranked(board, primary, params.tie_decimals)

    leading = ["rank", COMBO_ID, f"{primary}_mean", f"{primary}_std", "n_ok", "n_failed"]
    leading += ["n_folds", "fit_s_mean", "best_iteration_median", *grid_columns]
    board = board[leading + [column for column in board.columns if column not in leading]]
    logger.info(
        "Ranked %d combinations by %s (%s is better); best: %s with mean %.6g",
        len(board),
        primary,
        direction(primary),
        board.loc[0, COMBO_ID],
        board.loc[0, f"{primary}_mean"],
    )
    return board, board.round(6)


# ------------------------------------------------------------------------------------ best params
def _best_row(leaderboard: pd.DataFrame, primary: str) -> pd.Series:
    """The leaderboard's top row, checked to be ranked by `primary` and to have a value."""
    require_rows(leaderboard, "leaderboard", ("rank", COMBO_ID))
    # rank_combinations puts the ranking metric's mean right after rank and combo_id.
    ranked_by = (
        str(leaderboard.columns[2]).removesuffix("_mean") if leaderboard.shape[1] > 2 else None
    )
    if ranked_by != primary:
        raise ReportingError(
            f"The leaderboard is ranked by {ranked_by!r}, but tuning.primary_metric is "
            f"{primary!r}: it comes from another run; rerun the reporting pipeline."
        )
    best = leaderboard.sort_values("rank").iloc[0]
    if best.get("n_ok", 0) == 0 or pd.isna(best.get(f"{primary}_mean")):
        raise ReportingError(
            f"The top-ranked combination {best['combo_id']!r} has no ok fold with a "
            f"{primary} value; there is no best combination to report."
        )
    return best


def _recorded_params(trials: pd.DataFrame, combo_id: str) -> dict[str, Any]:
    """The LightGBM params the combination's first ok fold recorded (params_json)."""
    if trials.empty:
        raise ReportingError(
            f"tuning_results has no ok trial for the leaderboard's best combination "
            f"{combo_id!r}: the leaderboard and the results do not belong together."
        )
    first = trials.iloc[0]
    try:
        recorded = json.loads(first["params_json"])
    except (TypeError, json.JSONDecodeError) as error:
        raise ReportingError(
            f"params_json of trial {first['trial_id']!r} is not valid JSON ({error}): "
            f"{truncate(first['params_json'], 200)}"
        ) from error
    if trials["params_json"].nunique() > 1:
        logger.warning(
            "Combination %s recorded different params_json across folds; using fold %s's",
            combo_id,
            first["fold_id"],
        )
    return recorded


def _learned_rounds(trials: pd.DataFrame, tuning: TuningParams, aggregate: str) -> tuple[int, str]:
    """(num_boost_round for the refit, the rule that gave it) from the folds' best_iteration."""
    iterations = pd.to_numeric(trials["best_iteration"], errors="coerce")
    iterations = iterations[iterations > 0]
    if iterations.empty:
        rule = "no fold recorded a best iteration (no early stopping): tuning.num_boost_round"
        return tuning.num_boost_round, rule
    learned = getattr(iterations, aggregate)()
    rule = (
        f"{aggregate} of best_iteration over {len(iterations)} ok folds "
        f"({', '.join(str(int(value)) for value in iterations)}), rounded up"
    )
    return max(1, math.ceil(learned)), rule


def select_best_params(
    leaderboard: pd.DataFrame,
    tuning_results: pd.DataFrame,
    tuning_params: TuningParams,
    params: ReportingParams,
) -> dict[str, Any]:
    """The winning combination as a `tuning:` block to paste into parameters_tuning.yml.

    `tuning.fixed` = the tuning's `fixed` overlaid with the winner's recorded LightGBM params
    (`params_json`: fixed + grid values, exactly what its folds trained with), without the names
    the search sets itself (rounds, early stopping, threads: lightgbm_params.RESERVED_PARAMS).
    `tuning.num_boost_round` = the `rounds_aggregate` (default median) of the winner's
    best_iteration over its ok folds, rounded up; when no fold recorded one (no early stopping),
    the tuning's num_boost_round. `selection` records how the winner was chosen; `data_params`
    what the model input set (categorical features' positions, the class count), which the
    refit uses and a pasted block must not carry. When pasting, drop the winning names from
    `tuning.grid` (the tuning refuses a name in both).
    """
    primary = tuning_params.primary_metric
    best = _best_row(leaderboard, primary)
    trials = tuning_results[
        (tuning_results[COMBO_ID] == best[COMBO_ID]) & (tuning_results[STATUS] == OK)
    ].sort_values("fold_id")
    recorded = _recorded_params(trials, best[COMBO_ID])
    learnt = model_params({**tuning_params.fixed, **plain(recorded)})
    # Set from the model input on every run (tuning refuses them by hand): kept apart, for the
    # refit, so that `tuning` can be pasted back as it is.
    fixed = {name: value for name, value in learnt.items() if name not in DATA_DERIVED_PARAMS}
    from_data = {name: value for name, value in learnt.items() if name in DATA_DERIVED_PARAMS}
    num_boost_round, rule = _learned_rounds(trials, tuning_params, params.rounds_aggregate)
    grid_names = [column.removeprefix(PARAM_PREFIX) for column in param_columns(leaderboard)]
    return {
        "tuning": {"fixed": fixed, "num_boost_round": num_boost_round},
        DATA_PARAMS_KEY: from_data,
        "selection": plain(
            {
                COMBO_ID: best[COMBO_ID],
                "primary_metric": primary,
                "direction": f"{direction(primary)} is better",
                "mean": best[f"{primary}_mean"],
                "std": best.get(f"{primary}_std"),
                "n_ok_folds": best.get("n_ok"),
                "n_failed_folds": best.get("n_failed"),
                "grid_values": {name: recorded.get(name) for name in grid_names},
                "num_boost_round_rule": rule,
            }
        ),
    }


# ------------------------------------------------------------------------------------------ refit
def _model_settings(best_params: dict[str, Any], params: ReportingParams) -> tuple[dict, int]:
    """(LightGBM params, rounds) of best_params' `tuning:` block, for the final refit."""
    try:
        lgb_params = model_params(
            {**best_params["tuning"]["fixed"], **best_params.get(DATA_PARAMS_KEY, {})}
        )
        num_boost_round = int(best_params["tuning"]["num_boost_round"])
    except (KeyError, TypeError) as error:
        raise ReportingError(
            f"best_params lacks tuning.fixed or tuning.num_boost_round ({error!r})."
        ) from error
    lgb_params.setdefault("verbosity", -1)
    if params.refit_num_threads:
        lgb_params["num_threads"] = params.refit_num_threads
    return lgb_params, num_boost_round


def refit_best_model(
    best_params: dict[str, Any],
    model_input: pd.DataFrame,
    model_folds: pd.DataFrame,
    columns: ColumnParams,
    params: ReportingParams,
) -> tuple[str, pd.DataFrame]:
    """Train the best combination on every row the CV saw (union of all folds' train and test rows).

    The one boosting recipe of the trials (`trial.fit_model`: the same binning, parameters and
    data types), on an executor of the run's cluster or on the driver (`reporting.refit_on`,
    refit.py): `params:columns`' features and target, for `best_params.tuning.num_boost_round`
    rounds with no early stopping, on `refit_num_threads` threads (0: LightGBM's default, every
    core). Returns the model in LightGBM's text format and its feature importance (gain and
    split), sorted by gain.
    """
    lgb_params, num_boost_round = _model_settings(best_params, params)
    require_rows(model_input, "model_input")
    require_rows(model_folds, "model_folds", FOLD_COLUMNS)
    rows = covered_rows(model_folds, len(model_input))
    arrays = FoldArrays(model_input, {}, columns)
    x, y = arrays.x[rows], arrays.y[rows]
    # The run's session (SparkHooks built it for the search), if this run has one.
    spark = refit_session(params.refit_on, SparkSession.getActiveSession())
    if spark is None:
        booster = fit_model(lgb_params, num_boost_round, x, y, arrays.features)
    else:
        model = fit_on_executor(
            spark, lgb_params, num_boost_round, x=x, y=y, feature_names=arrays.features
        )
        booster = lgb.Booster(model_str=model)

    gain = booster.feature_importance(importance_type="gain")
    importance = pd.DataFrame(
        {
            "feature": booster.feature_name(),
            "importance_gain": gain,
            "importance_split": booster.feature_importance(importance_type="split"),
            "gain_share": gain / gain.sum() if gain.sum() > 0 else np.zeros_like(gain),
        }
    ).sort_values(["importance_gain", "feature"], ascending=[False, True], kind="mergesort")
    importance.insert(0, "rank", np.arange(1, len(importance) + 1))
    logger.info(
        "Refit the best combination on %d rows x %d features for %d rounds",
        len(rows),
        booster.num_feature(),
        num_boost_round,
    )
    return booster.model_to_string(), importance.reset_index(drop=True)
