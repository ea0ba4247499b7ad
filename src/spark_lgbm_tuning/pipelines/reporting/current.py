"""Reporting's first node: the search's outputs, shown to be one search's, of the current
parameters, data and folds, before any report output is written.

`run_trials` writes four outputs (`tuning_results`, `tuning_run_info`, `tuning_predictions`,
`tuning_learning_curves`), moved into place as one set (datasets/search_outputs.py), so a failed
save leaves the previous set whole; a run killed during the moves, or files copied by hand, can
still leave files of two runs side by side. Each carries the run's search id
(`tuning_run_info["search_id"]`, the tables' `attrs`, which parquet keeps), and a set whose ids
differ is refused naming the file; so are results of another search than the
current `params:tuning` describes and results computed on other data than the current folds
hold. Each refusal names the run that fixes it (a rerun of the tuning pipeline starts no Spark
job for a finished search: every output comes back from the trial store).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows, searched_params

# A runtime import, not TYPE_CHECKING: Kedro reads the node type hints to validate params:tuning.
from spark_lgbm_tuning.pipelines.tuning.params import RUN_INFO_SEARCH, TuningParams
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from spark_lgbm_tuning.vocabulary.search_id import SEARCH_ID
from spark_lgbm_tuning.vocabulary.trial_columns import FOLD_FINGERPRINT

from .results import ReportingError, require_rows

# Changes named in the refusal of results from another search.
MAX_CHANGES_SHOWN = 3


def _rerun(tuning_pipeline: str, why: str = "") -> str:
    return (
        f"run `kedro run --pipelines {tuning_pipeline}`{why} first (finished trials are reused "
        "from the trial store)"
    )


def check_results_are_current(  # noqa: PLR0913, PLR0917 - Kedro passes a node's inputs by position
    tuning_results: pd.DataFrame,
    tuning_run_info: dict[str, Any],
    tuning_predictions: pd.DataFrame,
    tuning_learning_curves: pd.DataFrame,
    data: pd.DataFrame,
    folds: pd.DataFrame,
    tuning_params: TuningParams,
    columns: ColumnParams,
    *,
    tuning_pipeline: str = "tuning",
) -> pd.DataFrame:
    """tuning_results as they are, once shown to come from the current search, data and folds.

    The four outputs of `run_trials` must carry one search id (one run wrote them all). The
    search that produced them (tuning_run_info records its description) must be the one the
    current `params:tuning` describes: otherwise the report would show one search space and rank
    another's results. Each result records the data fingerprint of the fold it ran on
    (`fold_fingerprint`, both strategies): results of a search on other data would rank on data
    they never saw. Each is refused in one line, naming what differs and `tuning_pipeline`, the
    run that fixes it.
    """
    _check_one_search(
        tuning_run_info,
        {
            "tuning_results": tuning_results,
            "tuning_predictions": tuning_predictions,
            "tuning_learning_curves": tuning_learning_curves,
        },
        tuning_pipeline,
    )
    rerun = _rerun(tuning_pipeline, " on the current data")
    require_rows(tuning_results, "tuning_results", ("trial_id", "fold_id"))
    fingerprints = tuning_results.get(FOLD_FINGERPRINT)
    if fingerprints is None or fingerprints.isna().any():
        raise ReportingError(
            "tuning_results lack fold_fingerprint values, so they cannot be checked against "
            f"the current data: {rerun}."
        )
    fold_ids = sorted(int(fold_id) for fold_id in tuning_results["fold_id"].unique())
    try:
        arrays = FoldArrays(data, fold_rows(folds, fold_ids, len(data)), columns)
    except ValueError as error:
        raise ReportingError(
            f"tuning_results do not fit the current data and folds ({error}): {rerun}."
        ) from error
    # The search's parameters as run: the model input's categorical features, its classes.
    _check_same_search(tuning_run_info, searched_params(tuning_params, arrays), tuning_pipeline)
    for fold_id in fold_ids:
        if set(fingerprints[tuning_results["fold_id"] == fold_id]) != {arrays.fingerprint(fold_id)}:
            raise ReportingError(
                f"tuning_results of fold {fold_id} were computed on other data than the "
                f"current data and folds (its fingerprint differs): {rerun}."
            )
    return tuning_results


def _check_one_search(
    tuning_run_info: dict[str, Any], tables: dict[str, pd.DataFrame], tuning_pipeline: str
) -> None:
    """Refuse a set of outputs that more than one run of the search wrote."""
    rerun = _rerun(tuning_pipeline, ", which writes all four again,")
    search_id = tuning_run_info.get(SEARCH_ID)
    if not search_id:
        raise ReportingError(
            "tuning_run_info carries no search id (it was written by an older version), so "
            f"the search's other outputs cannot be shown to be of the same run: {rerun}."
        )
    for name, table in tables.items():
        table_id = table.attrs.get(SEARCH_ID)
        if table_id != search_id:
            raise ReportingError(
                f"{name} was written by another run of the search than tuning_run_info "
                f"(search id {table_id or 'none'}, not {search_id}): a save of the search's "
                f"outputs failed part-way or was interrupted; {rerun}."
            )


def _changes(recorded: Any, current: Any, key: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted key, recorded value, current value) for each value that differs."""
    if isinstance(recorded, dict) and isinstance(current, dict):
        return [
            change
            for name in sorted(set(recorded) | set(current), key=str)
            for change in _changes(
                recorded.get(name), current.get(name), f"{key}.{name}" if key else str(name)
            )
        ]
    return [] if recorded == current else [(key, recorded, current)]


def _check_same_search(
    tuning_run_info: dict[str, Any], tuning_params: TuningParams, tuning_pipeline: str
) -> None:
    """Refuse results of a search other than the one `tuning_params` describes."""
    rerun = _rerun(tuning_pipeline, " with the current parameters")
    recorded = tuning_run_info.get(RUN_INFO_SEARCH)
    if not isinstance(recorded, dict):
        raise ReportingError(
            "tuning_run_info does not record the search that produced tuning_results (it was "
            f"written by an older version), so they cannot be checked against the parameters: "
            f"{rerun}."
        )
    # As tuning_run_info stores it: JSON values (tuples as lists).
    current = json.loads(json.dumps(tuning_params.search_description()))
    changes = _changes(recorded, current)
    if changes:
        shown = "; ".join(
            f"{key} was {json.dumps(old)}, now {json.dumps(new)}"
            for key, old, new in changes[:MAX_CHANGES_SHOWN]
        )
        more = (
            f" (and {len(changes) - MAX_CHANGES_SHOWN} more)"
            if len(changes) > MAX_CHANGES_SHOWN
            else ""
        )
        raise ReportingError(
            f"tuning_results come from another search than the current parameters describe: "
            f"{shown}{more}. To report this search, {rerun}; to report the stored results, "
            "run reporting without the change."
        )
