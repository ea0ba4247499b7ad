"""Progress of a search on the driver: records as they arrive, stored, logged, counted.

Each finished trial's row becomes a result record, is appended to the trial store at once (so
an interrupt loses at most the trials in flight), with the test predictions and learning curves
the search keeps (predictions.py), and counts in the progress lines.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from spark_lgbm_tuning.datasets.store_lock import StoreUnwritableError
from spark_lgbm_tuning.datasets.trial_store import TrialStore
from spark_lgbm_tuning.executor.scoring import primary_score
from spark_lgbm_tuning.executor.trial_spec import TrialSpec
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.results import result_record, store_record
from spark_lgbm_tuning.pipelines.tuning.rungs import pruned_at_rung
from spark_lgbm_tuning.vocabulary.statuses import FAILED, TIMED_OUT
from spark_lgbm_tuning.vocabulary.trial_columns import COMBO_ID, STATUS

logger = logging.getLogger(__name__)


class Progress:
    """Turns the rows of this run into records as they arrive, stores them, logs progress."""

    def __init__(self, params: TuningParams, store: TrialStore | None) -> None:
        self.params = params
        self.store = store
        self.spec_of: dict[str, TrialSpec] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self.started = time.perf_counter()
        # Trials of this run the store holds; after a failed write, nothing more is tried.
        self.n_stored = 0
        self.store_error: StoreUnwritableError | None = None

    def expect_more(self, specs: Sequence[TrialSpec]) -> None:
        """Trials of this run, as the search's task source readies them to run."""
        self.spec_of.update((spec.trial_id, spec) for spec in specs)

    def add(
        self,
        rows: list[dict[str, Any]],
        durable: bool,
        outputs: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        """Records of `rows`, stored when `durable` with the `outputs` (rows whose predictions
        and learning curves the search keeps)."""
        records = [result_record(self.spec_of[row["trial_id"]], row) for row in rows]
        self.records.update((record["trial_id"], record) for record in records)
        for record in records:
            if record[STATUS] == TIMED_OUT:
                # Each one, as it arrives: a timeout is a setting to revisit, not a crash.
                logger.warning(
                    "Trial %s (combination %s, fold %s) timed out: %s",
                    record["trial_id"],
                    record[COMBO_ID],
                    record["fold_id"],
                    record["error"],
                )
        if durable and self.store is not None and self.store_error is None:
            try:
                self.store.append(
                    (
                        store_record(
                            record,
                            self.params.trial_timeout_s,
                            self.spec_of[record["trial_id"]].fold_fingerprint,
                        )
                        for record in records
                    ),
                    outputs,
                )
            except StoreUnwritableError as error:
                self.store_error = error
                raise
            self.n_stored += len(records)

    def stopped_by(self, error: BaseException) -> None:
        """A search that `error` stopped: a failed write to the store is raised again as
        `store_failure`, the run's last line; else what was kept is logged."""
        if error is self.store_error:
            raise self.store_failure() from error
        self.log_what_was_kept()

    def log_what_was_kept(self) -> None:
        """After a search that did not finish: what the next run can resume from, truthfully."""
        if self.store is None:
            logger.warning(
                "No trial store: the %d finished trial(s) of this run are not kept",
                len(self.records),
            )
        elif self.store_error is not None:
            logger.error("%s", self.store_failure())
        else:
            logger.warning(
                "%d finished trial(s) of this run are in the trial store %s; the next run "
                "resumes from them",
                self.n_stored,
                self.store.path,
            )

    def store_failure(self) -> StoreUnwritableError:
        """After a failed write: the batch that could not be written, how many trials of this
        run were stored before it and how many not, and the fix; the search's last line."""
        error = self.store_error
        return StoreUnwritableError(
            f"{error.problem}. {self.n_stored} finished trial(s) of this run were stored before "
            f"it; the other {len(self.records) - self.n_stored} were not",
            error.fix,
        )

    def log(self) -> None:
        if not self.spec_of:
            # Not "Trials 0/0 done": a rerun of a finished search has nothing to run.
            logger.info("Trials: none to run, every trial of the search is reused")
            return
        done = len(self.records)
        records = self.records.values()
        failed = sum(record[STATUS] == FAILED for record in records)
        timed_out = sum(record[STATUS] == TIMED_OUT for record in records)
        at_rung = sum(pruned_at_rung(record) is not None for record in records)
        best = best_score(records, self.params)
        elapsed = time.perf_counter() - self.started
        eta = f"{elapsed / done * (len(self.spec_of) - done):.0f} s" if done else "n/a"
        logger.info(
            "Trials %d/%d done (%d failed, %d timed out%s), elapsed %.0f s, ETA %s, best %s so "
            "far: %s",
            done,
            len(self.spec_of),
            failed,
            timed_out,
            f", {at_rung} pruned at a rung" if self.params.search.round_pruning.active else "",
            elapsed,
            eta,
            self.params.primary_metric,
            "n/a" if best is None else f"{best:.5f}",
        )


def best_score(records: Any, params: TuningParams) -> float | None:
    """The best primary metric among `records` (None when none has one)."""
    scores = [primary_score(record, params.primary_metric) for record in records]
    scores = [score for score in scores if score is not None]
    if not scores:
        return None
    return (max if params.higher_is_better else min)(scores)
