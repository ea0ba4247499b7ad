"""Reporting nodes: rank the tuning trials, pick and refit the best combination, plot, write HTML.

Every node is pure: DataFrames, dicts and the typed `params:reporting` and `params:tuning` models
in, DataFrames, dicts, strings and matplotlib Figures out; the catalog does all file I/O.

The primary metric is `tuning.primary_metric` and its direction `HIGHER_IS_BETTER`, the very
setting and table the tuning ranks by, so the report cannot rank by another metric than the search.

Figures are built with the object-oriented API (`matplotlib.figure.Figure`, no pyplot) so they
need no GUI backend (the catalog writes them through Agg) and no global figure registry, which
keeps concurrent nodes (ThreadRunner) from drawing into each other's figures.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import math
from collections.abc import Mapping
from string import Template
from typing import Annotated, Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure
from pydantic import AfterValidator, BaseModel, ConfigDict

from spark_lgbm_tuning.lightgbm_params import (
    EARLY_STOPPING_ALIASES,
    HIGHER_IS_BETTER,
    ROUND_ALIASES,
    THREAD_ALIASES,
)

# A runtime import, not TYPE_CHECKING: Kedro reads the node type hints to validate params:tuning,
# and typing it TuningParams here as in the tuning nodes gives every run the same validated model.
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams

logger = logging.getLogger(__name__)

OK = "ok"
STATUSES = ("ok", "failed", "timed_out")
REQUIRED_RESULT_COLUMNS = (
    "trial_id",
    "combo_id",
    "fold_id",
    "status",
    "error",
    "params_json",
    "best_iteration",
    "fit_s",
)
PARAM_PREFIX = "param_"

REPORT_DATASET = "tuning_report"
REPORT_PATH = "data/08_reporting/tuning_report.html/<version>/tuning_report.html"


class ReportingError(ValueError):
    """The reporting inputs cannot give a meaningful result; the message names the cause."""


def _in_range(low: int, high: int) -> AfterValidator:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {value}")
        return value

    return AfterValidator(check)


class ReportingParams(BaseModel):
    """`params:reporting` (parameters_reporting.yml); Kedro validates it before the run."""

    model_config = ConfigDict(extra="forbid")

    tie_decimals: Annotated[int, _in_range(1, 15)] = 10
    top_n: Annotated[int, _in_range(1, 500)] = 10
    top_n_plot: Annotated[int, _in_range(1, 20)] = 5
    top_n_features: Annotated[int, _in_range(1, 200)] = 20
    rounds_aggregate: Literal["median", "mean", "max"] = "median"
    refit_num_threads: Annotated[int, _in_range(0, 1024)] = 0
    target_column: str = "target"
    feature_prefix: str = "feature_"
    time_column: str = "date"
    max_error_chars: Annotated[int, _in_range(80, 20_000)] = 2000
    figure_dpi: Annotated[int, _in_range(50, 300)] = 110
    title: str = "LightGBM tuning report"


def _tuning(tuning_params: TuningParams | Mapping[str, Any]) -> TuningParams:
    """`params:tuning` as Kedro's validated model; a plain dict (direct calls) is validated here."""
    return TuningParams.model_validate(tuning_params)


def _direction(metric: str) -> str:
    """'higher' or 'lower': which way `metric` is better, from the tuning trials' own table."""
    return "higher" if HIGHER_IS_BETTER[metric] else "lower"


# ---------------------------------------------------------------------------------------- helpers
def _plain(value: Any) -> Any:
    """Turn pydantic models, numpy scalars and NaN into plain YAML/JSON-safe Python values."""
    if isinstance(value, BaseModel):
        return _plain(value.model_dump())
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _truncate(text: Any, limit: int) -> str:
    text = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more chars)"


def _param_columns(frame: pd.DataFrame) -> list[str]:
    return [column for column in frame.columns if column.startswith(PARAM_PREFIX)]


def _metrics_with_values(results: pd.DataFrame, primary: str) -> list[str]:
    """The trial metrics that have at least one value in the ok trials, primary first."""
    ok = results[results["status"] == OK]
    present = [
        metric
        for metric in HIGHER_IS_BETTER
        if metric in ok.columns and pd.to_numeric(ok[metric], errors="coerce").notna().any()
    ]
    return sorted(present, key=lambda metric: metric != primary)


def _validated_results(tuning_results: pd.DataFrame, tuning: TuningParams) -> pd.DataFrame:
    """Check tuning_results against the reporting contract; ReportingError names what is wrong."""
    if tuning_results is None or tuning_results.empty:
        raise ReportingError(
            "tuning_results is empty: the tuning pipeline recorded no trials, so there is nothing "
            "to rank. Check tuning_trials and the tuning pipeline's log."
        )
    missing = [column for column in REQUIRED_RESULT_COLUMNS if column not in tuning_results]
    if missing:
        raise ReportingError(
            f"tuning_results lacks the column(s) {missing} that reporting needs "
            f"(it has: {', '.join(map(str, tuning_results.columns))})."
        )
    unknown = sorted(set(tuning_results["status"].astype(str)) - set(STATUSES))
    if unknown:
        raise ReportingError(
            f"tuning_results has unknown status value(s) {unknown}; expected one of {STATUSES}."
        )
    results = tuning_results.copy()
    for metric in HIGHER_IS_BETTER:
        if metric in results:
            results[metric] = pd.to_numeric(results[metric], errors="coerce")
    ok = results["status"] == OK
    if not ok.any():
        counts = results["status"].value_counts().to_dict()
        first_error = _truncate(results["error"].dropna().astype(str).head(1).squeeze(), 300)
        raise ReportingError(
            f"All {len(results)} trials in tuning_results failed ({counts}); nothing to rank. "
            f"First error: {first_error or 'none recorded'}"
        )
    metric = tuning.primary_metric
    if metric not in results or results.loc[ok, metric].isna().all():
        tasks = sorted(results["task"].dropna().astype(str).unique()) if "task" in results else []
        with_values = _metrics_with_values(results, metric)
        raise ReportingError(
            f"The primary metric {metric!r} (tuning.primary_metric, tuning.task "
            f"{tuning.task!r}) has no value in any ok trial of tuning_results (their task: "
            f"{', '.join(tasks) or 'unknown'}; metrics with values: "
            f"{', '.join(with_values) or 'none'}). The results come from another tuning "
            "configuration: rerun the tuning pipeline with the current params:tuning, or set "
            "tuning.task and tuning.primary_metric to those of the run that produced them."
        )
    return results


def _combo_label(row: pd.Series, param_columns: list[str]) -> str:
    values = ", ".join(
        f"{column.removeprefix(PARAM_PREFIX)}={row[column]}" for column in param_columns
    )
    return f"#{int(row['rank'])} {row['combo_id']}" + (f" ({values})" if values else "")


def _require_rows(frame: pd.DataFrame, name: str, columns: tuple[str, ...] = ()) -> None:
    if frame is None or frame.empty:
        raise ReportingError(f"{name} is empty: nothing to plot or report.")
    missing = [column for column in columns if column not in frame]
    if missing:
        raise ReportingError(f"{name} lacks the column(s) {missing}.")


# ---------------------------------------------------------------------------------------- ranking
def rank_combinations(
    tuning_results: pd.DataFrame, tuning_params: TuningParams, params: ReportingParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per combination, ranked by tuning.primary_metric's mean over its ok folds.

    Per metric with values: mean and sample std (ddof=1; NaN with one fold) over ok folds where it
    is defined. Failed and timed-out trials count in `n_failed`, never in the metrics. Order:
    primary mean (by its direction), then fewer failed folds, then lower std of the primary metric
    (NaN last), then `combo_id` ascending. Mean and std are compared rounded to `tie_decimals`, so
    sums that differ only in the last bits (row order) tie, and the order is deterministic.
    Returns the leaderboard twice: full precision (parquet) and rounded to 6 decimals (CSV).
    """
    tuning = _tuning(tuning_params)
    primary = tuning.primary_metric
    results = _validated_results(tuning_results, tuning)
    metrics = _metrics_with_values(results, primary)
    param_columns = _param_columns(results)
    ok = results[results["status"] == OK]

    by_combo = results.groupby("combo_id", sort=True)
    board = pd.DataFrame(
        {
            "n_folds": by_combo.size(),
            "n_ok": by_combo["status"].agg(lambda status: int((status == OK).sum())),
        }
    )
    board["n_failed"] = board["n_folds"] - board["n_ok"]
    ok_by_combo = ok.groupby("combo_id", sort=True)
    for metric in metrics:
        board[f"{metric}_mean"] = ok_by_combo[metric].mean()
        board[f"{metric}_std"] = ok_by_combo[metric].std(ddof=1)
    board["fit_s_mean"] = ok_by_combo["fit_s"].mean()
    board["best_iteration_median"] = ok_by_combo["best_iteration"].median()
    if param_columns:
        board = board.join(by_combo[param_columns].first())

    rounded = board[f"{primary}_mean"].round(params.tie_decimals)
    sort_keys = pd.DataFrame(
        {
            "metric": (-rounded if HIGHER_IS_BETTER[primary] else rounded).fillna(np.inf),
            "n_failed": board["n_failed"],
            "std": board[f"{primary}_std"].round(params.tie_decimals).fillna(np.inf),
            "combo_key": board.index.astype(str),
        },
        index=board.index,
    )
    order = sort_keys.sort_values(
        ["metric", "n_failed", "std", "combo_key"], kind="mergesort"
    ).index
    board = board.loc[order].reset_index()
    board.insert(0, "rank", np.arange(1, len(board) + 1))

    leading = ["rank", "combo_id", f"{primary}_mean", f"{primary}_std", "n_ok", "n_failed"]
    leading += ["n_folds", "fit_s_mean", "best_iteration_median", *param_columns]
    board = board[leading + [column for column in board.columns if column not in leading]]
    logger.info(
        "Ranked %d combinations by %s (%s is better); best: %s with mean %.6g",
        len(board),
        primary,
        _direction(primary),
        board.loc[0, "combo_id"],
        board.loc[0, f"{primary}_mean"],
    )
    return board, board.round(6)


def select_best_params(
    leaderboard: pd.DataFrame,
    tuning_results: pd.DataFrame,
    tuning_params: TuningParams,
    params: ReportingParams,
) -> dict[str, Any]:
    """The winning combination as a `tuning:` block to paste into parameters_tuning.yml.

    `tuning.fixed` = the tuning's `fixed` overlaid with the winner's recorded LightGBM params
    (`params_json`: fixed + grid values, exactly what its folds trained with), without round-count,
    early-stopping or thread aliases (the search sets those itself). `tuning.num_boost_round` =
    the `rounds_aggregate` (default median) of the winner's best_iteration over its ok folds,
    rounded up; when no fold recorded one (no early stopping), the tuning's num_boost_round.
    `selection` records how the winner was chosen (by tuning.primary_metric). When pasting, drop the winning names from `tuning.grid` (the tuning
    refuses a name in both).
    """
    _require_rows(leaderboard, "leaderboard", ("rank", "combo_id"))
    tuning = _tuning(tuning_params)
    primary = tuning.primary_metric
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
    trials = tuning_results[
        (tuning_results["combo_id"] == best["combo_id"]) & (tuning_results["status"] == OK)
    ].sort_values("fold_id")
    if trials.empty:
        raise ReportingError(
            f"tuning_results has no ok trial for the leaderboard's best combination "
            f"{best['combo_id']!r}: the leaderboard and the results do not belong together."
        )
    first = trials.iloc[0]
    try:
        trial_params = json.loads(first["params_json"])
    except (TypeError, json.JSONDecodeError) as error:
        raise ReportingError(
            f"params_json of trial {first['trial_id']!r} is not valid JSON ({error}): "
            f"{_truncate(first['params_json'], 200)}"
        ) from error
    if trials["params_json"].nunique() > 1:
        logger.warning(
            "Combination %s recorded different params_json across folds; using fold %s's",
            best["combo_id"],
            first["fold_id"],
        )

    fixed = {**tuning.fixed, **_plain(trial_params)}
    reserved = ROUND_ALIASES | EARLY_STOPPING_ALIASES | THREAD_ALIASES
    fixed = {key: value for key, value in fixed.items() if key not in reserved}

    iterations = pd.to_numeric(trials["best_iteration"], errors="coerce")
    iterations = iterations[iterations > 0]
    if not iterations.empty:
        learned = getattr(iterations, params.rounds_aggregate)()
        num_boost_round = max(1, math.ceil(learned))
        rule = (
            f"{params.rounds_aggregate} of best_iteration over {len(iterations)} ok folds "
            f"({', '.join(str(int(value)) for value in iterations)}), rounded up"
        )
    else:
        num_boost_round = tuning.num_boost_round
        rule = "no fold recorded a best iteration (no early stopping): tuning.num_boost_round"

    param_names = [column.removeprefix(PARAM_PREFIX) for column in _param_columns(leaderboard)]
    return {
        "tuning": {"fixed": fixed, "num_boost_round": num_boost_round},
        "selection": _plain(
            {
                "combo_id": best["combo_id"],
                "primary_metric": primary,
                "direction": f"{_direction(primary)} is better",
                "mean": best[f"{primary}_mean"],
                "std": best.get(f"{primary}_std"),
                "n_ok_folds": best.get("n_ok"),
                "n_failed_folds": best.get("n_failed"),
                "grid_values": {name: trial_params.get(name) for name in param_names},
                "num_boost_round_rule": rule,
            }
        ),
    }


# ------------------------------------------------------------------------------------------ refit
def refit_rows(timeseries_folds: pd.DataFrame, n_rows: int) -> np.ndarray:
    """Every row any fold used (train or test), sorted: the data the cross-validation saw."""
    _require_rows(timeseries_folds, "timeseries_folds", ("fold_id", "split", "row"))
    rows = np.unique(timeseries_folds["row"].to_numpy(dtype=np.int64))
    if rows[0] < 0 or rows[-1] >= n_rows:
        raise ReportingError(
            f"timeseries_folds refers to rows {rows[0]}..{rows[-1]} but timeseries_data has "
            f"{n_rows} rows: the folds were cut from other data; rerun data_generation."
        )
    return rows


def feature_columns(data: pd.DataFrame, params: ReportingParams) -> list[str]:
    """The `feature_prefix*` columns in the data's order: what the tuning trials trained on."""
    if params.target_column not in data:
        raise ReportingError(
            f"timeseries_data has no target column {params.target_column!r} "
            f"(reporting.target_column); columns: {', '.join(map(str, data.columns))}"
        )
    features = [c for c in data.columns if str(c).startswith(params.feature_prefix)]
    if not features:
        raise ReportingError(
            f"timeseries_data has no column starting with {params.feature_prefix!r} "
            "(reporting.feature_prefix) to train on."
        )
    return features


def refit_best_model(
    best_params: dict[str, Any],
    timeseries_data: pd.DataFrame,
    timeseries_folds: pd.DataFrame,
    params: ReportingParams,
) -> tuple[str, pd.DataFrame]:
    """Train the best combination on every row the CV saw (union of all folds' train and test rows).

    Trains for `best_params.tuning.num_boost_round` rounds with no early stopping (there is no
    held-out set left), on `refit_num_threads` threads (0: LightGBM's default, every core).
    Returns the model in LightGBM's text format and its feature importance (gain and split),
    sorted by gain.
    """
    try:
        lgb_params = dict(best_params["tuning"]["fixed"])
        num_boost_round = int(best_params["tuning"]["num_boost_round"])
    except (KeyError, TypeError) as error:
        raise ReportingError(
            f"best_params lacks tuning.fixed or tuning.num_boost_round ({error!r})."
        ) from error
    _require_rows(timeseries_data, "timeseries_data")
    features = feature_columns(timeseries_data, params)
    rows = refit_rows(timeseries_folds, len(timeseries_data))

    lgb_params = {
        key: value
        for key, value in lgb_params.items()
        if key not in ROUND_ALIASES | EARLY_STOPPING_ALIASES
    }
    lgb_params.setdefault("verbosity", -1)
    if params.refit_num_threads:
        lgb_params["num_threads"] = params.refit_num_threads
    train = timeseries_data.iloc[rows]
    dataset = lgb.Dataset(train[features], label=train[params.target_column], feature_name=features)
    booster = lgb.train(lgb_params, dataset, num_boost_round=num_boost_round)
    if booster.num_feature() != len(features):
        raise ReportingError(
            f"The refit model has {booster.num_feature()} features, expected {len(features)}."
        )

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
        len(features),
        num_boost_round,
    )
    return booster.model_to_string(), importance.reset_index(drop=True)


# ------------------------------------------------------------------------------------------ plots
def plot_metric_per_fold(
    tuning_results: pd.DataFrame,
    leaderboard: pd.DataFrame,
    tuning_params: TuningParams,
    params: ReportingParams,
) -> Figure:
    """The primary metric per fold for the top `top_n_plot` combinations; gaps are failed folds."""
    _require_rows(tuning_results, "tuning_results", ("combo_id", "fold_id", "status"))
    _require_rows(leaderboard, "leaderboard", ("rank", "combo_id"))
    metric = _tuning(tuning_params).primary_metric
    param_columns = _param_columns(leaderboard)
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    folds = sorted(tuning_results["fold_id"].unique())
    for _, row in leaderboard.sort_values("rank").head(params.top_n_plot).iterrows():
        trials = tuning_results[tuning_results["combo_id"] == row["combo_id"]]
        values = (
            trials.assign(value=trials[metric].where(trials["status"] == OK))
            .groupby("fold_id")["value"]
            .mean()
            .reindex(folds)
        )
        ax.plot(
            folds, values.to_numpy(dtype=float), marker="o", label=_combo_label(row, param_columns)
        )
    ax.set_xticks(folds)
    ax.set_xlabel("fold")
    ax.set_ylabel(metric)
    ax.set_title(
        f"{metric} per fold, top {min(params.top_n_plot, len(leaderboard))} combinations "
        f"({_direction(metric)} is better)"
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return fig


def plot_param_effects(leaderboard: pd.DataFrame, tuning_params: TuningParams) -> Figure:
    """Each tuned parameter against the combinations' mean primary metric (dots) and its average."""
    _require_rows(leaderboard, "leaderboard", ("combo_id",))
    metric = _tuning(tuning_params).primary_metric
    metric_column = f"{metric}_mean"
    param_columns = _param_columns(leaderboard)
    if not param_columns:
        fig = Figure(figsize=(6, 2))
        fig.text(0.5, 0.5, "No tuned parameter (the grid is empty).", ha="center", va="center")
        return fig
    ncols = min(3, len(param_columns))
    nrows = math.ceil(len(param_columns) / ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.4 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, column in zip(axes, param_columns, strict=False):
        frame = leaderboard[[column, metric_column]].dropna(subset=[metric_column])
        numeric = pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(
            frame[column]
        )
        if numeric:
            positions = frame[column].astype(float)
            means = frame.groupby(column)[metric_column].mean().sort_index()
            ax.scatter(positions, frame[metric_column], alpha=0.5, s=18)
            ax.plot(means.index.astype(float), means.to_numpy(), color="black", marker="D")
            values = positions[positions > 0]
            if len(values) == len(positions) and values.max() / values.min() >= 20:
                ax.set_xscale("log")
        else:
            labels = sorted(frame[column].astype(str).unique())
            codes = frame[column].astype(str).map({label: i for i, label in enumerate(labels)})
            means = frame.groupby(codes)[metric_column].mean().sort_index()
            ax.scatter(codes, frame[metric_column], alpha=0.5, s=18)
            ax.plot(means.index, means.to_numpy(), color="black", marker="D")
            ax.set_xticks(range(len(labels)), labels)
        ax.set_xlabel(column.removeprefix(PARAM_PREFIX))
        ax.set_ylabel(metric_column)
        ax.grid(alpha=0.3)
    for ax in axes[len(param_columns) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"Parameter effects on {metric} "
        f"(dots: combinations, diamonds: average; {_direction(metric)} is better)"
    )
    return fig


def plot_fit_time_vs_metric(leaderboard: pd.DataFrame, tuning_params: TuningParams) -> Figure:
    """Mean fit time against the mean primary metric per combination; the best one highlighted."""
    metric = _tuning(tuning_params).primary_metric
    metric_column = f"{metric}_mean"
    _require_rows(leaderboard, "leaderboard", ("rank", "fit_s_mean", metric_column))
    frame = leaderboard.dropna(subset=["fit_s_mean", metric_column]).sort_values("rank")
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    ax.scatter(frame["fit_s_mean"], frame[metric_column], alpha=0.6, label="combination")
    if not frame.empty:
        best = frame.iloc[0]
        ax.scatter(
            [best["fit_s_mean"]],
            [best[metric_column]],
            color="crimson",
            s=90,
            marker="*",
            label=f"best: {best['combo_id']}",
        )
    ax.set_xlabel("mean fit time per fold (s)")
    ax.set_ylabel(metric_column)
    ax.set_title(f"Fit time vs {metric}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_feature_importance(feature_importance: pd.DataFrame, params: ReportingParams) -> Figure:
    """The refit model's top `top_n_features` features by gain, with their split counts."""
    _require_rows(
        feature_importance, "feature_importance", ("feature", "importance_gain", "importance_split")
    )
    top = feature_importance.sort_values("importance_gain", ascending=False).head(
        params.top_n_features
    )[::-1]
    fig = Figure(figsize=(9, max(3.0, 0.28 * len(top) + 1.2)), layout="constrained")
    gain_ax, split_ax = fig.subplots(1, 2, sharey=True)
    gain_ax.barh(top["feature"], top["importance_gain"], color="steelblue")
    split_ax.barh(top["feature"], top["importance_split"], color="darkorange")
    gain_ax.set_xlabel("total gain")
    split_ax.set_xlabel("number of splits")
    fig.suptitle(f"Refit model: top {len(top)} features by gain")
    return fig


def plot_resource_use(tuning_results: pd.DataFrame) -> Figure:
    """Per-trial peak RSS and CPU utilisation over the run, one colour per executor."""
    columns = ("executor_id", "peak_rss_mb", "cpu_utilisation")
    _require_rows(tuning_results, "tuning_results", columns)
    frame = tuning_results.copy()
    if "started_at" in frame and frame["started_at"].notna().any():
        started = pd.to_datetime(frame["started_at"], utc=True)
        frame["x"] = (started - started.min()).dt.total_seconds()
        x_label = "trial start (s since the first trial)"
    else:
        frame["x"] = np.arange(len(frame))
        x_label = "trial"
    fig = Figure(figsize=(9, 6), layout="constrained")
    rss_ax, cpu_ax = fig.subplots(2, 1, sharex=True)
    for executor, trials in frame.groupby(frame["executor_id"].astype(str), sort=True):
        ok = trials["status"] == OK if "status" in trials else pd.Series(True, trials.index)
        for ax, column in ((rss_ax, "peak_rss_mb"), (cpu_ax, "cpu_utilisation")):
            line = ax.scatter(
                trials.loc[ok, "x"], trials.loc[ok, column], s=16, label=f"executor {executor}"
            )
            ax.scatter(
                trials.loc[~ok, "x"],
                trials.loc[~ok, column],
                s=40,
                marker="x",
                color=line.get_facecolor(),
            )
    rss_ax.set_ylabel("peak RSS (MB)")
    cpu_ax.set_ylabel("CPU utilisation")
    cpu_ax.set_xlabel(x_label)
    rss_ax.legend(fontsize=7, loc="best")
    for ax in (rss_ax, cpu_ax):
        ax.grid(alpha=0.3)
    fig.suptitle("Resource use per trial (x: failed or timed-out trial)")
    return fig


# ----------------------------------------------------------------------------------------- report
_REPORT = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>$title</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
.subtitle { color: #666; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th { background: #f3f3f3; }
td.text, th.text { text-align: left; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
td pre { margin: 0; padding: 0.3em; white-space: pre-wrap; max-width: 60em; }
.wide { overflow-x: auto; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
</style>
</head>
<body>
<h1>$title</h1>
<p class="subtitle">$subtitle</p>

<h2>Run facts</h2>
$run_facts

<h2>Data and folds</h2>
$data_summary
$folds

<h2>Leaderboard (top $top_n of $n_combinations)</h2>
<p>$ranking_rule</p>
$leaderboard

<h2>Best parameters</h2>
<p>The <code>tuning:</code> block holds the winning combination as fixed parameters and the
learned number of rounds: paste it into <code>conf/base/parameters_tuning.yml</code> and drop the
names it fixes from <code>tuning.grid</code>.</p>
<pre>$best_params</pre>

<h2>Refit model</h2>
$refit

<h2>Plots</h2>
$figures

<h2>Failed trials</h2>
$failed
</body>
</html>
"""
)

_FIGURE_CAPTIONS = {
    "metric_per_fold": "Primary metric on each fold for the top combinations.",
    "param_effects": "Each tuned parameter against the primary metric.",
    "fit_time_vs_metric": "Mean fit time against the primary metric.",
    "feature_importance": "Feature importance of the refit model.",
    "resource_use": "Per-trial peak memory and CPU utilisation by executor.",
}


def _facts_table(facts: list[tuple[str, Any]]) -> str:
    rows = "\n".join(
        f'<tr><th class="text">{html.escape(str(name))}</th>'
        f'<td class="text">{html.escape(_format_value(value))}</td></tr>'
        for name, value in facts
    )
    return f"<table>\n{rows}\n</table>"


def _format_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float | np.floating):
        return f"{value:.5g}"
    return str(value)


def _frame_table(frame: pd.DataFrame) -> str:
    """A DataFrame as an HTML table (cells escaped) that scrolls sideways when it is wide."""
    table = frame.to_html(
        index=False, escape=True, border=0, na_rep="—", float_format=lambda value: f"{value:.5g}"
    )
    return f'<div class="wide">\n{table}\n</div>'


def _figure_png_base64(fig: Figure, dpi: int) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _run_facts(run_info: Mapping[str, Any]) -> str:
    wall_s, cores = run_info.get("wall_s"), run_info.get("total_cores")
    sum_fit_s = run_info.get("sum_fit_s")
    efficiency = (
        sum_fit_s / (wall_s * cores) if wall_s and cores and sum_fit_s is not None else None
    )
    return _facts_table(
        [
            ("Spark master", run_info.get("spark_master")),
            ("application id", run_info.get("app_id")),
            ("executors", run_info.get("n_executors")),
            ("total cores", cores),
            ("cores per task (spark.task.cpus)", run_info.get("task_cpus")),
            ("started / ended", f"{run_info.get('started_at')} / {run_info.get('ended_at')}"),
            ("wall time (s)", wall_s),
            (
                "trials: total / ok / failed",
                "{} / {} / {}".format(
                    run_info.get("n_trials"), run_info.get("n_ok"), run_info.get("n_failed")
                ),
            ),
            ("Σ fit time (s)", sum_fit_s),
            ("Σ fit time ÷ (wall × cores)", efficiency),
        ]
    )


def _data_summary(data: pd.DataFrame, rows: np.ndarray, params: ReportingParams) -> str:
    target = data[params.target_column]
    time = params.time_column
    facts: list[tuple[str, Any]] = [
        ("rows", len(data)),
        ("features", len(feature_columns(data, params))),
    ]
    if time in data:
        facts.append(("time range", f"{data[time].min()} → {data[time].max()}"))
    if set(target.dropna().unique()) <= {0, 1}:
        facts.append(("positive ratio", float(target.mean())))
    else:
        facts.append(("target mean / std", f"{target.mean():.5g} / {target.std():.5g}"))
    refit_range = ""
    if time in data:
        refit_range = f" ({data[time].iloc[rows[0]]} → {data[time].iloc[rows[-1]]})"
    facts.append(("rows the folds use (refit data)", f"{len(rows)}{refit_range}"))
    return _facts_table(facts)


def _failed_trials(tuning_results: pd.DataFrame, limit: int) -> str:
    failed = tuning_results[tuning_results["status"] != OK].sort_values(["combo_id", "fold_id"])
    if failed.empty:
        return f"<p>None: all {len(tuning_results)} trials finished ok.</p>"
    columns = [
        c
        for c in ("trial_id", "combo_id", "fold_id", "status", "executor_id", "host")
        if c in failed
    ]
    header = "".join(f'<th class="text">{html.escape(c)}</th>' for c in [*columns, "error"])
    body = "\n".join(
        "<tr>"
        + "".join(f'<td class="text">{html.escape(_format_value(row[c]))}</td>' for c in columns)
        + f'<td class="text"><pre>{html.escape(_truncate(row["error"], limit))}</pre></td></tr>'
        for _, row in failed.iterrows()
    )
    summary = f"<p>{len(failed)} of {len(tuning_results)} trials did not finish ok.</p>"
    return f"{summary}\n<table>\n<tr>{header}</tr>\n{body}\n</table>"


def render_report(
    *,
    leaderboard: pd.DataFrame,
    best_params: dict[str, Any],
    tuning_results: pd.DataFrame,
    tuning_run_info: dict[str, Any],
    timeseries_data: pd.DataFrame,
    timeseries_folds: pd.DataFrame,
    fold_summary: pd.DataFrame,
    feature_importance: pd.DataFrame,
    refit_model: str,
    tuning_params: TuningParams,
    params: ReportingParams,
) -> str:
    """One self-contained HTML page: run facts, data and folds, leaderboard, best params, refit,
    every plot as an embedded base64 PNG, and failed trials with their errors.

    MatplotlibDataset cannot be loaded back, so the plots are rebuilt here with the same functions
    (and inputs) the plot nodes use rather than read from the `*_plot` datasets.
    """
    _require_rows(leaderboard, "leaderboard", ("rank", "combo_id"))
    _require_rows(tuning_results, "tuning_results", ("status", "error"))
    if not refit_model or not refit_model.startswith("tree"):
        raise ReportingError(
            "refit_model is not a LightGBM text model (it must start with 'tree')."
        )
    booster = lgb.Booster(model_str=refit_model)
    rows = refit_rows(timeseries_folds, len(timeseries_data))
    tuning = _tuning(tuning_params)
    primary = tuning.primary_metric
    figures = {
        "metric_per_fold": plot_metric_per_fold(tuning_results, leaderboard, tuning, params),
        "param_effects": plot_param_effects(leaderboard, tuning),
        "fit_time_vs_metric": plot_fit_time_vs_metric(leaderboard, tuning),
        "feature_importance": plot_feature_importance(feature_importance, params),
        "resource_use": plot_resource_use(tuning_results),
    }
    figure_html = "\n".join(
        f'<figure id="{name}_plot"><img alt="{name}" '
        f'src="data:image/png;base64,{_figure_png_base64(fig, params.figure_dpi)}">'
        f"<figcaption>{html.escape(_FIGURE_CAPTIONS[name])}</figcaption></figure>"
        for name, fig in figures.items()
    )
    selection = best_params.get("selection", {})
    refit = _facts_table(
        [
            ("combination", selection.get("combo_id")),
            ("rows (union of all folds' train and test rows)", len(rows)),
            ("boosting rounds", best_params.get("tuning", {}).get("num_boost_round")),
            ("rounds rule", selection.get("num_boost_round_rule")),
            ("trees in the saved model", booster.num_trees()),
            ("features", booster.num_feature()),
            ("catalog datasets", "refit_model (LightGBM text), feature_importance"),
        ]
    )
    subtitle = (
        f"Primary metric: {primary} (tuning.primary_metric; {_direction(primary)} is better). "
        f"Tuning run ended {tuning_run_info.get('ended_at', 'at an unknown time')}."
    )
    ranking_rule = (
        f"Mean and sample std over each combination's ok folds. Ranked by mean {primary}, then "
        "fewer failed folds, then lower std, then combo_id."
    )
    page = _REPORT.substitute(
        title=html.escape(params.title),
        subtitle=html.escape(subtitle),
        run_facts=_run_facts(tuning_run_info),
        data_summary=_data_summary(timeseries_data, rows, params),
        folds=_frame_table(fold_summary) if fold_summary is not None else "",
        top_n=min(params.top_n, len(leaderboard)),
        n_combinations=len(leaderboard),
        ranking_rule=html.escape(ranking_rule),
        leaderboard=_frame_table(leaderboard.sort_values("rank").head(params.top_n)),
        # The paste-able `tuning:` block first, however the YAML dataset ordered the keys.
        best_params=html.escape(
            yaml.safe_dump(
                _plain({"tuning": best_params.get("tuning"), **best_params}), sort_keys=False
            )
        ),
        refit=refit,
        figures=figure_html,
        failed=_failed_trials(tuning_results, params.max_error_chars),
    )
    logger.info(
        "Tuning report rendered (%d KiB); the catalog saves it as '%s' under %s",
        len(page) // 1024,
        REPORT_DATASET,
        REPORT_PATH,
    )
    return page
