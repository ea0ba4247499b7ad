"""What MLflow records of a run, as plain values built from what the pipeline already holds.

No MLflow call here: `mlflow_log.py` sends these. A search's combinations come from `tuning_results`
(one row per trial) and its data fingerprint from `tuning_trials`; the run's context (git commit,
package versions, env) from the project.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from spark_lgbm_tuning.datasets.store_lock import Holder
from spark_lgbm_tuning.environment import git_state, package_versions
from spark_lgbm_tuning.pipelines.reporting import ok_fold_stats
from spark_lgbm_tuning.vocabulary.hashing import stable_hash
from spark_lgbm_tuning.vocabulary.lightgbm_params import METRICS
from spark_lgbm_tuning.vocabulary.statuses import FAILED, OK, PRUNED, TIMED_OUT
from spark_lgbm_tuning.vocabulary.trial_columns import (
    COMBO_ID,
    FOLD_FINGERPRINT,
    PARAM_PREFIX,
    STATUS,
)

# A combination's status when its folds disagree: the first of these any fold has. Pruned first:
# an adaptive search stopped the combination, whatever its folds did before.
STATUS_PRECEDENCE = (PRUNED, TIMED_OUT, FAILED)
# Per-trial measurements summarised per combination besides the metrics.
MEASURES = ("best_iteration", "fit_s")
# MLflow's limits: run names, tag values (server side 8000; kept well under), params (6000).
MAX_RUN_NAME = 250
MAX_TAG_VALUE = 5000
MAX_PARAM_VALUE = 6000
# Tags of a parent run naming the process that runs it: a run left RUNNING by a process that is
# gone (SIGKILL, a lost machine) is closed as KILLED by the next run (`orphaned`).
PROCESS_PID, PROCESS_HOST, PROCESS_START = "process.pid", "process.host", "process.start"


@dataclass
class CombinationRun:
    """One combination of a search, as its nested MLflow run shows it."""

    combo_id: str
    name: str
    status: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def combination_status(statuses: pd.Series) -> str:
    """ok when every fold is ok; else the first of STATUS_PRECEDENCE a fold has (or its own)."""
    present = set(statuses.astype(str))
    if present == {OK}:
        return OK
    for status in STATUS_PRECEDENCE:
        if status in present:
            return status
    return sorted(present - {OK})[0]


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def _combination_metrics(trials: pd.DataFrame) -> dict[str, float]:
    """mean / std (ddof=1, as the leaderboard) over the ok folds, and each fold's own value."""
    values: dict[str, float] = {
        "n_folds": float(len(trials)),
        "n_folds_ok": float((trials[STATUS] == OK).sum()),
    }
    ok = trials[trials[STATUS] == OK]
    names = [name for name in (*METRICS, *MEASURES) if name in trials]
    stats = ok_fold_stats(trials, names)
    for name in names:
        column = pd.to_numeric(ok[name], errors="coerce").dropna()
        if column.empty:
            continue
        for key in (f"{name}_mean", f"{name}_std"):
            if (number := _number(stats[key].iloc[0])) is not None:
                values[key] = number
        for fold_id, value in zip(ok.loc[column.index, "fold_id"], column, strict=True):
            values[f"fold_{int(fold_id)}.{name}"] = float(value)
    return values


def _combination_params(first: pd.Series) -> dict[str, str]:
    """The trial's full LightGBM parameters (params_json) with the grid values over them."""
    params: dict[str, Any] = {}
    if isinstance(first.get("params_json"), str):
        params.update(json.loads(first["params_json"]))
    for column, value in first.items():
        if str(column).startswith(PARAM_PREFIX) and _present(value):
            params[str(column).removeprefix(PARAM_PREFIX)] = value
    return {str(key): str(value)[:MAX_PARAM_VALUE] for key, value in params.items()}


def _present(value: Any) -> bool:
    return not (value is None or (isinstance(value, float) and math.isnan(value)))


def _run_name(first: pd.Series, combo_id: str) -> str:
    values = [
        f"{str(column).removeprefix(PARAM_PREFIX)}={value}"
        for column, value in first.items()
        if str(column).startswith(PARAM_PREFIX) and _present(value)
    ]
    return (",".join(values) or combo_id)[:MAX_RUN_NAME]


def combination_runs(tuning_results: pd.DataFrame, namespace: str = "") -> list[CombinationRun]:
    """One CombinationRun per combo_id of `tuning_results`, in combo_id order."""
    runs = []
    for combo_id, trials in tuning_results.sort_values("fold_id").groupby(COMBO_ID, sort=True):
        first = trials.iloc[0]
        status = combination_status(trials[STATUS])
        tags = {"combo_id": str(combo_id), "status": status, "namespace": namespace}
        for fold_id, fold_status in zip(trials["fold_id"], trials[STATUS], strict=True):
            tags[f"fold_{int(fold_id)}.status"] = str(fold_status)
        # Round-wise pruning: the rung of boosting rounds a fold's trial stopped at.
        rungs = trials.get("pruned_at_round", pd.Series(index=trials.index, dtype=float))
        for fold_id, rung in zip(trials["fold_id"], rungs, strict=True):
            if _present(rung):
                tags[f"fold_{int(fold_id)}.pruned_at_round"] = str(int(rung))
        errors = trials["error"].dropna().astype(str) if "error" in trials else pd.Series()
        if not errors.empty:
            tags["first_error"] = errors.iloc[0][:MAX_TAG_VALUE]
        runs.append(
            CombinationRun(
                combo_id=str(combo_id),
                name=_run_name(first, str(combo_id)),
                status=status,
                params=_combination_params(first),
                metrics=_combination_metrics(trials),
                tags=tags,
            )
        )
    return runs


def flat_params(prefix: str, value: Any) -> dict[str, str]:
    """A parameter block as MLflow params: one per leaf key, named by its path (a.b.c). A typed
    block (the pydantic model Kedro validated it into) counts as the dict of its fields."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, Mapping) and value:
        flat: dict[str, str] = {}
        for key, item in value.items():
            flat.update(flat_params(f"{prefix}.{key}", item))
        return flat
    return {prefix: str(value)[:MAX_PARAM_VALUE]}


def data_fingerprint(tuning_results: pd.DataFrame) -> dict[str, str]:
    """Tags naming the data a search ran on: each fold's fingerprint and one digest of them all
    (from its trials' rows, whichever strategy proposed them)."""
    folds = (
        tuning_results[["fold_id", FOLD_FINGERPRINT]]
        .dropna()
        .drop_duplicates()
        .sort_values(["fold_id", FOLD_FINGERPRINT])
    )
    pairs = [[int(fold), str(print_)] for fold, print_ in folds.itertuples(index=False)]
    tags = {f"fold_fingerprint.{fold}": print_ for fold, print_ in pairs}
    tags["data_fingerprint"] = stable_hash(pairs)
    return tags


def search_metrics(run_info: Mapping[str, Any]) -> dict[str, float]:
    """The numbers of `tuning_run_info` (wall, counts, efficiency, best score) as metrics."""
    return {
        f"search.{key}": number
        for key, value in run_info.items()
        if not isinstance(value, bool) and (number := _number(value)) is not None
    }


def search_tags(run_info: Mapping[str, Any]) -> dict[str, str]:
    """The words of `tuning_run_info` (task, master, app id, primary metric) as tags."""
    return {
        f"search.{key}": str(value) for key, value in run_info.items() if isinstance(value, str)
    }


def context_tags(project_path: Path) -> dict[str, str]:
    """git.commit / git.dirty (inside a git work tree) and version.<distribution> tags."""
    tags = {f"version.{name}": version for name, version in package_versions().items()}
    git = git_state(project_path)
    if git is not None:
        tags |= {"git.commit": git.commit, "git.dirty": str(git.dirty).lower()}
    return tags


def process_tags() -> dict[str, str]:
    """The tags that let a later run tell whether this process still runs (pid, host, start)."""
    this = Holder.this_process()
    tags = {PROCESS_PID: str(this.pid), PROCESS_HOST: this.host}
    if this.pid_start is not None:
        tags[PROCESS_START] = this.pid_start
    return tags


def orphaned(tags: Mapping[str, str]) -> bool:
    """True when the process named by a run's `process_tags` has ended (checked on its host
    only: a run of another host, or without the tags, is never called orphaned)."""
    if PROCESS_PID not in tags or PROCESS_HOST not in tags:
        return False
    holder = Holder(
        pid=int(tags[PROCESS_PID]),
        host=tags[PROCESS_HOST],
        started_at="",
        pid_start=tags.get(PROCESS_START),
        token="",
    )
    return not holder.is_alive()
