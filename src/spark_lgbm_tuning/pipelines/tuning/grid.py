"""The grid as the scheduler's `TaskSource`: every (combination, fold) of `tuning_trials`, with
the trials the trial store already holds a final result for reused, not rerun.

The same driver loop (`search.run_search`) runs it as it runs an adaptive search
(adaptive.py); `sources.search_source` picks one of the two from `params:tuning.search`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from spark_lgbm_tuning.datasets.trial_store import TrialStore
from spark_lgbm_tuning.executor.trial_spec import TrialSpec
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.results import reusable_records
from spark_lgbm_tuning.pipelines.tuning.scheduler import PlannedGroups
from spark_lgbm_tuning.pipelines.tuning.tasks import plan_tasks
from spark_lgbm_tuning.vocabulary.statuses import PRUNED
from spark_lgbm_tuning.vocabulary.trial_columns import COMBO_ID, STATUS

logger = logging.getLogger(__name__)


class GridSearch:
    """Every trial of the grid in planned task groups (shared boosting runs, short runs of one
    fold packed for `slots` task slots, longest first: tasks.plan_tasks).

    `ready` readies the specs about to run (threads, run token, levers); `on_proposed` gets
    them in planned order when the search starts (the fold shipper queues their folds);
    `log_progress` logs the search's progress.
    """

    def __init__(
        self,
        params: TuningParams,
        specs: Iterable[TrialSpec],
        *,
        disabled_levers: frozenset[str] = frozenset(),
        slots: int | None = None,
        ready: Callable[[list[TrialSpec]], list[TrialSpec]] = lambda specs: specs,
        on_proposed: Callable[[list[TrialSpec]], None] = lambda specs: None,
        log_progress: Callable[[], None] = lambda: None,
    ) -> None:
        self.params = params
        self.specs = list(specs)
        self.disabled_levers = disabled_levers
        self.slots = slots
        self.ready = ready
        self.on_proposed = on_proposed
        self.log_progress = log_progress
        # Stored records this search reuses (trial_id -> record).
        self.reused: dict[str, dict[str, Any]] = {}
        self._groups = PlannedGroups([])
        self._store = "not used"

    def resume(self, store: TrialStore) -> None:
        """Reuse the store's final results of this grid's trials (see reusable_records), unless
        tuning.resume is false."""
        self._store = str(store.path)
        if not self.params.resume:
            logger.info(
                "tuning.resume is false: running all %d trials again (the trial store keeps the "
                "newest result of each)",
                len(self.specs),
            )
            return
        stored = store.load(spec.trial_id for spec in self.specs)
        self.reused = reusable_records(stored, self.specs, self.params)

    def rungs_may_prune(self) -> bool:
        """Always: round_pruning.min_complete is for adaptive strategies (the grid runs the
        largest folds first, so its first combination completes near the end)."""
        return True

    def start(self) -> None:
        """Plan the trials the store lacks into task groups; hand them to `on_proposed`."""
        to_run = self.ready([spec for spec in self.specs if spec.trial_id not in self.reused])
        groups = plan_tasks(
            to_run,
            self.disabled_levers,
            self.slots,
            by_combination=self.params.search.round_pruning.active,
        )
        logger.info(
            "Trial store %s: %d of %d trials reused, %d to run",
            self._store,
            len(self.reused),
            len(self.specs),
            len(to_run),
        )
        logger.info("Grid search: %d trials as %d Spark jobs", len(to_run), len(groups))
        self.on_proposed([spec for group in groups for spec in group])
        self._groups = PlannedGroups(groups)

    def next_group(self) -> list[TrialSpec] | None:
        return self._groups.next_group()

    def observe(self, rows: Iterable[dict[str, Any]]) -> None:
        """A grid decides nothing from results."""

    def specs_of(self, trial_ids: Iterable[str]) -> list[TrialSpec]:
        """The specs of these trials of the grid."""
        by_id = {spec.trial_id: spec for spec in self.specs}
        return [by_id[trial_id] for trial_id in trial_ids]

    def final_records(
        self, new: Mapping[str, dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(every trial's record in the trials table's order, records to store again: none)."""
        by_id = {**self.reused, **new}
        return [by_id[spec.trial_id] for spec in self.specs if spec.trial_id in by_id], []

    def run_info(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """What `tuning_run_info` adds for this strategy."""
        return {
            "strategy": self.params.search.strategy,
            "n_combinations": self.params.n_combinations,
            # Combinations with a trial pruned at a rung (round pruning; the grid prunes no fold).
            "n_pruned": len({r[COMBO_ID] for r in records if r[STATUS] == PRUNED}),
            "boosting_s_saved_by_pruning": 0.0,
        }
