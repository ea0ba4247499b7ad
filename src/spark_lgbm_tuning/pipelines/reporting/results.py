"""The tuning_results contract as reporting reads it, and the small helpers every reporting
module shares (errors, JSON/YAML-safe values, parameter columns, metric directions).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.vocabulary.errors import ExplainedError
from spark_lgbm_tuning.vocabulary.lightgbm_params import HIGHER_IS_BETTER
from spark_lgbm_tuning.vocabulary.statuses import OK, STATUSES
from spark_lgbm_tuning.vocabulary.trial_columns import COMBO_ID, PARAM_PREFIX, STATUS

REQUIRED_RESULT_COLUMNS = (
    "trial_id",
    COMBO_ID,
    "fold_id",
    STATUS,
    "error",
    "params_json",
    "best_iteration",
    "fit_s",
)


class ReportingError(ExplainedError, ValueError):
    """The reporting inputs cannot give a meaningful result; the message names the cause."""


def direction(metric: str) -> str:
    """'higher' or 'lower': which way `metric` is better, from the tuning trials' own table."""
    return "higher" if HIGHER_IS_BETTER[metric] else "lower"


def plain(value: Any) -> Any:
    """Turn pydantic models, numpy scalars and NaN into plain YAML/JSON-safe Python values."""
    if isinstance(value, BaseModel):
        return plain(value.model_dump())
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def truncate(text: Any, limit: int) -> str:
    text = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more chars)"


def param_columns(frame: pd.DataFrame) -> list[str]:
    """The `param_*` columns: one per tuned (grid) parameter."""
    return [column for column in frame.columns if column.startswith(PARAM_PREFIX)]


def combo_label(row: pd.Series, columns: list[str]) -> str:
    values = ", ".join(f"{column.removeprefix(PARAM_PREFIX)}={row[column]}" for column in columns)
    return f"#{int(row['rank'])} {row['combo_id']}" + (f" ({values})" if values else "")


def require_rows(frame: pd.DataFrame, name: str, columns: tuple[str, ...] = ()) -> None:
    if frame is None or frame.empty:
        raise ReportingError(f"{name} is empty: nothing to plot or report.")
    missing = [column for column in columns if column not in frame]
    if missing:
        raise ReportingError(f"{name} lacks the column(s) {missing}.")


def metrics_with_values(results: pd.DataFrame, primary: str) -> list[str]:
    """The trial metrics that have at least one value in the ok trials, primary first."""
    ok = results[results[STATUS] == OK]
    present = [
        metric
        for metric in HIGHER_IS_BETTER
        if metric in ok.columns and pd.to_numeric(ok[metric], errors="coerce").notna().any()
    ]
    return sorted(present, key=lambda metric: metric != primary)


def ok_fold_stats(results: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Per combo_id (the index, sorted): `<column>_mean` and `<column>_std` (ddof=1) of each
    column over the combination's ok folds; non-numeric values count as missing.

    The one definition of a combination's mean/std: the leaderboard and MLflow show the same.
    """
    ok = results[results[STATUS] == OK]
    values = pd.DataFrame(
        {column: pd.to_numeric(ok[column], errors="coerce") for column in columns}, index=ok.index
    )
    by_combo = values.groupby(ok[COMBO_ID], sort=True)
    means, stds = by_combo.mean(), by_combo.std(ddof=1)
    return pd.DataFrame(
        {
            f"{column}_{stat}": frame[column]
            for column in columns
            for stat, frame in (("mean", means), ("std", stds))
        },
        index=means.index,
    )


def validated_results(tuning_results: pd.DataFrame, tuning: TuningParams) -> pd.DataFrame:
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
    unknown = sorted(set(tuning_results[STATUS].astype(str)) - set(STATUSES))
    if unknown:
        raise ReportingError(
            f"tuning_results has unknown status value(s) {unknown}; expected one of {STATUSES}."
        )
    results = tuning_results.copy()
    for metric in HIGHER_IS_BETTER:
        if metric in results:
            results[metric] = pd.to_numeric(results[metric], errors="coerce")
    ok = results[STATUS] == OK
    if not ok.any():
        counts = results[STATUS].value_counts().to_dict()
        first_error = truncate(results["error"].dropna().astype(str).head(1).squeeze(), 300)
        raise ReportingError(
            f"All {len(results)} trials in tuning_results failed ({counts}); nothing to rank. "
            f"First error: {first_error or 'none recorded'}"
        )
    metric = tuning.primary_metric
    if metric not in results or results.loc[ok, metric].isna().all():
        tasks = sorted(results["task"].dropna().astype(str).unique()) if "task" in results else []
        with_values = metrics_with_values(results, metric)
        raise ReportingError(
            f"The primary metric {metric!r} (tuning.primary_metric, tuning.task "
            f"{tuning.task!r}) has no value in any ok trial of tuning_results (their task: "
            f"{', '.join(tasks) or 'unknown'}; metrics with values: "
            f"{', '.join(with_values) or 'none'}). The results come from another tuning "
            "configuration: rerun the tuning pipeline with the current params:tuning, or set "
            "tuning.task and tuning.primary_metric to those of the run that produced them."
        )
    return results
