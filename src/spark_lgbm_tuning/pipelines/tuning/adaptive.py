"""An adaptive search on the driver: Optuna proposes combinations, their folds run as Spark jobs.

One Optuna trial per combination (ask/tell). Its folds run one after another, cheapest (fewest
train rows) first, each a `TrialSpec` with the grid's ids (`search_space.trial_spec`), so the
trial store serves it like any grid trial. After each fold the combination reports its score and
asks the pruner; a pruned combination runs no further fold, nor does one whose fold was pruned
at a rung inside its boosting run (round pruning, rungs.py). `AdaptiveSearch` is the scheduler's
`TaskSource`: a freed slot gets the next fold of a live combination, else a new proposal, until
the budget (search.n_combinations, search.time_budget_s) is spent; running folds finish.

Resume: `AdaptiveSearch.rebuild` (adaptive_resume.py) takes the trial store's trials of this
search space into the study and re-proposes the interrupted combinations first.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import optuna
import pandas as pd
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from spark_lgbm_tuning.datasets.trial_store import TrialStore
from spark_lgbm_tuning.executor.scoring import primary_score
from spark_lgbm_tuning.executor.trial_spec import TrialSpec
from spark_lgbm_tuning.pipelines.tuning import adaptive_resume, portfolio, stepwise, strategies
from spark_lgbm_tuning.pipelines.tuning.combination import Combination
from spark_lgbm_tuning.pipelines.tuning.combination import CombinationState as State
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.rungs import pruned_at_rung
from spark_lgbm_tuning.pipelines.tuning.search_space import FoldFacts, trial_spec
from spark_lgbm_tuning.vocabulary import statuses
from spark_lgbm_tuning.vocabulary.statuses import PRUNED
from spark_lgbm_tuning.vocabulary.trial_columns import STATUS

logger = logging.getLogger(__name__)

# Repeated proposals in a row after which a search stops proposing (see AdaptiveSearch).
MAX_REPEATS = 50


class AdaptiveSearch:
    """Proposals, fold order, pruning and budget of one adaptive search (see module doc)."""

    def __init__(
        self,
        params: TuningParams,
        folds: Iterable[FoldFacts],
        *,
        data: portfolio.DataFacts | None = None,
        slots: int = 1,
        ready: Callable[[list[TrialSpec]], list[TrialSpec]] = lambda specs: specs,
        on_proposed: Callable[[list[TrialSpec]], None] = lambda specs: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.params = params
        # What search.start portfolio orders its configurations by, and its wave's size.
        self.data = data
        self.slots = max(1, slots)
        # Cheapest first: a bad combination is found out on the smallest fold.
        self.folds = sorted(folds, key=lambda fold: (fold.n_train, fold.fold_id))
        self.space = strategies.distributions(params)
        self._steps = stepwise.steps(self.space)
        self._first: list[dict[str, Any]] | None = None
        self.study = strategies.new_study(params)
        self.ready = ready
        self.on_proposed = on_proposed
        self.clock = clock
        # Distinct combinations proposed: search.n_combinations counts these. A sampler that
        # repeats a known combination is told its outcome and asked again, up to MAX_REPEATS
        # times in a row (a small space of lists it keeps coming back to).
        self.n_proposed = 0
        self._repeats = 0
        self._space_size = _finite_size(self.space)
        self.combinations: dict[str, Combination] = {}
        self._combo_of: dict[str, str] = {}
        # Stored records this search reuses (trial_id -> record), and which of them it used.
        self.stored: dict[str, dict[str, Any]] = {}
        self.reused: dict[str, dict[str, Any]] = {}
        self.pruned_ids: set[str] = set()
        # Combinations ended by a fold pruned at a rung (round pruning), of those pruned.
        self.n_pruned_at_rung = 0
        self._deadline: float | None = None
        self._started = clock()

    # ----------------------------------------------------------------- budget and proposals
    def start(self) -> None:
        """Start the time budget's clock (when the first Spark job can run)."""
        self._started = self.clock()
        if self.params.search.time_budget_s is not None:
            self._deadline = self._started + self.params.search.time_budget_s

    def time_left_s(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - self.clock())

    def may_propose(self) -> bool:
        """Whether the budget allows another proposal."""
        limit = self.params.search.n_combinations
        if limit is not None and self.n_proposed >= limit:
            return False
        if self._space_size is not None and len(self.combinations) >= self._space_size:
            return False  # every combination of a space of lists has been proposed
        if self._repeats >= MAX_REPEATS:
            if self._repeats == MAX_REPEATS:
                logger.info(
                    "The %s sampler proposed known combinations %d times in a row: no more "
                    "proposals (%d distinct)",
                    self.params.search.strategy,
                    MAX_REPEATS,
                    self.n_proposed,
                )
                self._repeats += 1
            return False
        return self._deadline is None or self.clock() < self._deadline

    def _propose(self) -> None:
        number = len(self.study.trials)
        if number == 0:
            for values in self._first_proposals():
                self.study.enqueue_trial(values)
        self.study.sampler = self._sampler(number)
        trial = self.study.ask(self.space)
        combination = self.add_combination(dict(trial.params), number)
        if combination.specs:
            self.n_proposed += 1
            self._repeats = 0
            combination.trial = trial
            self.on_proposed(combination.specs)
            return
        # The sampler repeated a combination: told the known outcome, not run again, and not
        # counted against n_combinations.
        self._repeats += 1
        known = self.combinations[trial_spec(self.params, trial.params, self.folds[0]).combo_id]
        if known.state == State.COMPLETE:
            self.study.tell(trial, sum(known.scores) / len(known.scores))
        else:
            self.study.tell(
                trial, state=TrialState.PRUNED if known.state == State.PRUNED else TrialState.FAIL
            )

    def _sampler(self, number: int) -> optuna.samplers.BaseSampler:
        """Proposal `number`'s sampler (stepwise: over its step's group, from the best so far)."""
        sampler = strategies.make_sampler(self.params, number)
        if self.params.search.strategy != "stepwise":
            return sampler
        first = self._first_proposals()
        complete = [t for t in self.study.trials if t.state == TrialState.COMPLETE]
        best = self.study.best_trial.params if complete else first[0]
        return stepwise.sampler(self._steps, max(0, number - len(first)), best, sampler)

    def _first_proposals(self) -> list[dict[str, Any]]:
        """search.start's proposals before the sampler's (none for `sampler`, but stepwise's
        start: LightGBM's defaults fitted into the space); worked out once."""
        if self._first is None:
            self._first = strategies.start_wave(self.params, self.space, self.data, self.slots)
        return self._first

    def add_combination(self, values: dict[str, Any], number: int) -> Combination:
        """The combination of these values as Optuna trial `number`, with its folds' specs; no
        specs when it was proposed before."""
        specs = self.ready([trial_spec(self.params, values, fold) for fold in self.folds])
        combination = Combination(number, values, specs)
        if specs[0].combo_id in self.combinations:
            combination.specs = []
        else:
            self.combinations[specs[0].combo_id] = combination
            self._combo_of.update((spec.trial_id, spec.combo_id) for spec in specs)
        return combination

    def next_group(self) -> list[TrialSpec] | None:
        """The scheduler's next group: the next fold of a live combination (oldest first), else
        a new proposal's first fold; None once the budget is spent and no fold is waiting."""
        while True:
            for combination in self.combinations.values():
                if combination.state == State.LIVE and not combination.running:
                    spec = combination.specs[combination.next_fold]
                    if spec.trial_id in self.stored:  # ran before: reused, not rerun
                        record = dict(self.stored[spec.trial_id])
                        self.reused[spec.trial_id] = record
                        combination.running = True
                        self._observe(combination, record)
                        break
                    combination.running = True
                    return [spec]
            else:
                if not self.may_propose():
                    return None
                self._propose()

    def rungs_may_prune(self) -> bool:
        """Whether enough combinations completed every fold for rungs to prune (min_complete)."""
        floor = self.params.search.round_pruning.min_complete
        return floor == 0 or self.counts()["complete"] >= floor

    # ------------------------------------------------------------------------ results
    def observe(self, rows: Iterable[dict[str, Any]]) -> list[str]:
        """Take the rows of finished folds; a pruned fold's row gets status `pruned` (in place).

        Returns the trial ids of earlier folds of the combinations pruned now (stored as ok).
        """
        earlier = []
        for row in rows:
            combo_id = self._combo_of.get(row["trial_id"])
            combination = self.combinations.get(combo_id) if combo_id else None
            if combination is None or combination.state != State.LIVE:
                continue
            earlier += self._observe(combination, row)
        return earlier

    def _observe(self, combination: Combination, row: dict[str, Any]) -> list[str]:
        combination.running = False
        combination.next_fold += 1
        score = self.fold_score(row)
        if score is None:
            combination.state = State.FAILED
            self.study.tell(combination.trial, state=TrialState.FAIL)
            return []
        combination.scores.append(score)
        # A fold stopped at a rung inside its boosting run (round_pruning) ends its combination.
        rung_pruned = pruned_at_rung(row) is not None
        if combination.next_fold == len(combination.specs) and not rung_pruned:
            combination.state = State.COMPLETE
            self.study.tell(combination.trial, sum(combination.scores) / len(combination.scores))
            return []
        if rung_pruned:
            self.n_pruned_at_rung += 1
        else:
            value = strategies.reported_value(self.params, combination.scores)
            combination.trial.report(value, combination.next_fold - 1)
            if not combination.trial.should_prune():
                return []
        combination.state = State.PRUNED
        self.study.tell(combination.trial, state=TrialState.PRUNED)
        row[STATUS] = PRUNED
        ids = combination.trial_ids
        self.pruned_ids.update(ids)
        return ids[:-1]

    def fold_score(self, row: Mapping[str, Any]) -> float | None:
        """A fold's primary metric; None when it failed (a pruned fold's metrics are kept)."""
        if row[STATUS] not in {statuses.OK, PRUNED}:
            return None
        return primary_score({**row, STATUS: statuses.OK}, self.params.primary_metric)

    # --------------------------------------------------------------------------- resume
    def resume(self, store: TrialStore) -> None:
        """Rebuild from the store's trials (see rebuild), unless tuning.resume is false."""
        if self.params.resume:
            self.rebuild(store.load())

    def rebuild(self, stored: pd.DataFrame) -> int:
        """Rebuild the study from the store's trials of this search space (adaptive_resume);
        returns the number of combinations taken from the store."""
        return adaptive_resume.rebuild(self, stored)

    # ------------------------------------------------------------------------- summary
    def specs_of(self, trial_ids: Iterable[str]) -> list[TrialSpec]:
        """The specs of these trials of the search's combinations."""
        by_id = {
            spec.trial_id: spec
            for combination in self.combinations.values()
            for spec in combination.specs
        }
        return [by_id[trial_id] for trial_id in trial_ids]

    def final_records(
        self, new: Mapping[str, dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(every fold result, reused and `new`, in proposal and run order; the records to store
        again). The folds of pruned combinations get status pruned; those stored as ok (the
        earlier folds of a combination pruned later) are the ones to store again."""
        by_id = {**self.reused, **new}
        records, restored = [], []
        for combination in self.combinations.values():
            for trial_id in combination.trial_ids:
                record = by_id.get(trial_id)
                if record is None:
                    continue
                if trial_id in self.pruned_ids:
                    # As stored: the fold that was pruned says so already, earlier ones said ok.
                    stored = self.stored.get(trial_id) or new[trial_id]
                    if stored[STATUS] != PRUNED:
                        restored.append({**record, STATUS: PRUNED})
                    record = {**record, STATUS: PRUNED}
                records.append(record)
        return records, restored

    def run_info(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """What `tuning_run_info` adds for this strategy."""
        return {
            "strategy": self.params.search.strategy,
            "n_combinations": self.n_proposed,
            "n_pruned": self.counts()["pruned"],
            "boosting_s_saved_by_pruning": self.saved_boosting_s(records),
            "time_budget_s": self.params.search.time_budget_s,
        }

    def counts(self) -> dict[str, int]:
        """Combinations by state: proposed, running, pruned, complete, failed."""
        states = [combination.state for combination in self.combinations.values()]
        return {
            "proposed": len(states),
            "running": sum(c.running for c in self.combinations.values() if c.state == State.LIVE),
            "pruned": states.count(State.PRUNED),
            "complete": states.count(State.COMPLETE),
            "failed": states.count(State.FAILED),
        }

    def best_value(self) -> float | None:
        """The best mean over all folds among the fully evaluated combinations."""
        complete = [t for t in self.study.trials if t.state == TrialState.COMPLETE]
        if not complete:
            return None
        return self.study.best_value

    def saved_boosting_s(self, records: Iterable[Mapping[str, Any]]) -> float:
        """What the pruned combinations' unrun folds would have cost: each fold's mean fit_s over
        the combinations that ran it."""
        fit_s: dict[int, list[float]] = {}
        for record in records:
            if record.get("fit_s") is not None and record[STATUS] in {statuses.OK, PRUNED}:
                fit_s.setdefault(int(record["fold_id"]), []).append(float(record["fit_s"]))
        mean = {fold: sum(values) / len(values) for fold, values in fit_s.items()}
        saved = 0.0
        for combination in self.combinations.values():
            if combination.state == State.PRUNED:
                for spec in combination.specs[combination.next_fold :]:
                    saved += mean.get(spec.fold_id, 0.0)
        return saved

    def log_progress(self) -> None:
        counts = self.counts()
        best = self.best_value()
        left = self.time_left_s()
        limit = self.params.search.n_combinations
        logger.info(
            "Search %s: %d/%s combinations proposed, %d running, %d pruned%s, %d done (%d "
            "failed), elapsed %.0f s, budget left %s, best mean %s so far: %s",
            self.params.search.strategy,
            counts["proposed"],
            limit if limit is not None else "-",
            counts["running"],
            counts["pruned"],
            f" ({self.n_pruned_at_rung} at a rung)"
            if self.params.search.round_pruning.active
            else "",
            counts["complete"],
            counts["failed"],
            self.clock() - self._started,
            "n/a" if left is None else f"{left:.0f} s",
            self.params.primary_metric,
            "n/a" if best is None else f"{best:.5f}",
        )


def _finite_size(space: Mapping[str, Any]) -> int | None:
    """The number of combinations of a space of lists only (None when it has a range)."""
    sizes = [
        len(distribution.choices)
        for distribution in space.values()
        if isinstance(distribution, CategoricalDistribution)
    ]
    return math.prod(sizes) if len(sizes) == len(space) else None
