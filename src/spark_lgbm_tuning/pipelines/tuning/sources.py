"""The one place a search strategy is chosen: `search_table` writes its `tuning_trials` (the
grid's trials; none for an adaptive search, which proposes them while it runs) and
`search_source` returns its task source (the grid, or an Optuna-driven adaptive search), which
the one driver loop (`search.run_search`) runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import pandas as pd

from spark_lgbm_tuning.datasets.trial_store import TrialStore
from spark_lgbm_tuning.executor.trial_spec import TrialSpec
from spark_lgbm_tuning.pipelines.tuning.adaptive import AdaptiveSearch
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays
from spark_lgbm_tuning.pipelines.tuning.grid import GridSearch
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.portfolio import DataFacts
from spark_lgbm_tuning.pipelines.tuning.scheduler import TaskSource
from spark_lgbm_tuning.pipelines.tuning.search_space import (
    FoldFacts,
    expand,
    specs_from_table,
    trials_table,
)
from spark_lgbm_tuning.vocabulary.errors import InputDataError

logger = logging.getLogger(__name__)


class SearchSource(TaskSource, Protocol):
    """A strategy as the driver loop sees it (GridSearch, AdaptiveSearch)."""

    # Stored records the search reuses instead of running them (trial_id -> record).
    reused: dict[str, dict[str, Any]]

    def resume(self, store: TrialStore) -> None:
        """Take what the trial store already holds of this search (unless tuning.resume is
        false)."""

    def start(self) -> None:
        """Called once, just before the first Spark job can run."""

    def observe(self, rows: Iterable[dict[str, Any]]) -> Any:
        """Rows of finished trials, before they are stored (a pruned fold's status is set)."""

    def log_progress(self) -> None: ...

    def rungs_may_prune(self) -> bool:
        """Whether round pruning's thresholds apply yet (round_pruning.min_complete)."""

    def specs_of(self, trial_ids: Iterable[str]) -> list[TrialSpec]:
        """The specs of these trials (reused or run)."""

    def final_records(
        self, new: Mapping[str, dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(every trial's record, reused and `new`, in the search's order; records whose stored
        status changed, to store again)."""

    def run_info(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """The strategy's part of `tuning_run_info`."""


def search_table(arrays: FoldArrays, params: TuningParams) -> pd.DataFrame:
    """`tuning_trials` of `params.search`: one row per (combination, fold) of the grid; no row
    for an adaptive search (its trials are proposed while it runs), the same columns."""
    if params.search.adaptive:
        budget = params.search
        parts = [f"up to {budget.n_combinations} combinations"] if budget.n_combinations else []
        parts += [f"{budget.time_budget_s:g} s"] if budget.time_budget_s else []
        logger.info(
            "Search space: %s proposes combinations (%s) on %d folds",
            budget.strategy,
            ", ".join(parts) + f", pruning {budget.pruning}",
            len(arrays.rows),
        )
        return trials_table([], params)
    table = trials_table(expand(arrays, params), params)
    logger.info(
        "Search space: %d combinations x %d folds = %d trials (%d distinct trial ids)",
        params.n_combinations,
        len(arrays.rows),
        len(table),
        table["trial_id"].nunique(),
    )
    return table


def search_source(
    params: TuningParams,
    trials: pd.DataFrame,
    folds: list[FoldFacts],
    *,
    data: DataFacts | None = None,
    disabled_levers: frozenset[str] = frozenset(),
    slots: int | None = None,
    ready: Callable[[list[TrialSpec]], list[TrialSpec]] = lambda specs: specs,
    on_proposed: Callable[[list[TrialSpec]], None] = lambda specs: None,
    log_progress: Callable[[], None] = lambda: None,
) -> SearchSource:
    """The task source of `params.search`: the grid's trials of `tuning_trials`, or an adaptive
        search proposing its combinations on `folds` (`data`: what search.start portfolio reads of the
    data).

        `ready` readies specs about to run (threads, run token, levers), `on_proposed` gets the specs
        the source will hand out (to ship their folds ahead), `log_progress` logs a grid's progress
        (an adaptive search logs its own). The grid packs short runs of one fold into one task for
        `slots` task slots; an adaptive search proposes one fold of a combination at a time, so it
        packs nothing.
    """
    if params.search.adaptive:
        if not trials.empty:
            raise InputDataError(
                f"tuning_trials holds {len(trials)} grid trials, but search.strategy is "
                f"{params.search.strategy!r}: run expand_search_space with the same parameters"
            )
        return AdaptiveSearch(
            params, folds, data=data, slots=slots or 1, ready=ready, on_proposed=on_proposed
        )
    return GridSearch(
        params,
        specs_from_table(trials, params),
        disabled_levers=disabled_levers,
        slots=slots,
        ready=ready,
        on_proposed=on_proposed,
        log_progress=log_progress,
    )
