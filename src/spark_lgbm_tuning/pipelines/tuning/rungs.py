"""Round-wise pruning on the driver: the rung schedule and each fold's thresholds (ASHA's rule).

A trial with rungs notes its validation metric at each rung round it reaches (`rung_metric`,
`rung_scores` of its row; `scoring.RungPruner`). From the trials of a fold finished so far,
`fold_thresholds` gives the thresholds every newly submitted task of that fold carries
(`TrialSpec.rung_thresholds`): a task never asks the driver while it runs. ASHA's rule: at a rung,
a trial goes on only while its score is among the top 1/eta of the scores of the fold's trials
that reached that rung, all compared at the same round. Against crossing learning curves (at a
low learning rate, early rounds misrank combinations of different capacity), a rung prunes only
once `min_trials` boosting runs of the fold reached it, rungs start at `min_rounds`, and `margin`
loosens each threshold. So the first trials of a fold always run unpruned.

Pure functions on result records (`results.result_record`) or executor rows; no Spark.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from spark_lgbm_tuning.executor.trial_spec import TrialSpec
from spark_lgbm_tuning.pipelines.tuning.search_params import RoundPruningParams
from spark_lgbm_tuning.vocabulary.lightgbm_params import validation_higher_is_better
from spark_lgbm_tuning.vocabulary.statuses import OK, PRUNED
from spark_lgbm_tuning.vocabulary.trial_columns import STATUS

# (rung round, threshold) pairs of one fold, as TrialSpec.rung_thresholds carries them.
Thresholds = tuple[tuple[int, float], ...]


def rung_rounds(rule: RoundPruningParams, max_rounds: int) -> tuple[int, ...]:
    """The rungs: min_rounds x eta^k boosting rounds (rounded), each below `max_rounds`.

    Empty when the rule is off. Every trial of a search gets the same rungs, so that their
    scores are compared at the same rounds; a trial with a lower cap never reaches the later ones.
    """
    if not rule.active:
        return ()
    rungs: list[int] = []
    rung = float(rule.min_rounds)
    while round(rung) < max_rounds:
        if not rungs or round(rung) > rungs[-1]:
            rungs.append(round(rung))
        rung *= rule.eta
    return tuple(rungs)


def _rung_scores(record: Mapping[str, Any]) -> dict[int, float]:
    text = record.get("rung_scores")
    if not isinstance(text, str) or not text:
        return {}
    return {int(rung): float(score) for rung, score in json.loads(text).items()}


def _run_key(record: Mapping[str, Any]) -> Any:
    """One boosting run: trials that shared one (num_boost_round caps of one combination) have
    the same parameters and fold, and count once at a rung."""
    return record.get("params_json") or record["trial_id"]


def fold_thresholds(
    records: Iterable[Mapping[str, Any]], rule: RoundPruningParams
) -> dict[int, Thresholds]:
    """fold_id -> the thresholds of its rungs, from the finished trials in `records`.

    A rung gets a threshold once `rule.min_trials` boosting runs of the fold reached it: the
    score of the ceil(n / eta)-th best of the n runs there (the top 1/eta go on), loosened by
    `rule.margin`. Only finished trials count (status ok or pruned, with rung scores); a fold with
    no rung that qualifies has no entry. The scores of one search are of one metric (its direction
    is LightGBM's); records of two metrics are refused.
    """
    ladder = RungLadder(rule)
    ladder.add(records)
    return ladder.thresholds()


class RungLadder:
    """The rung scores of a search's finished trials, gathered as they arrive (fold_thresholds'
    rule, kept up to date without reading every record again at each submission).

    `carry` gives a task group about to be submitted the search's rungs and its fold's latest
    thresholds: the search loop calls it for every group it submits, whatever the strategy.
    """

    def __init__(
        self,
        rule: RoundPruningParams,
        max_rounds: int = 0,
        train_sizes: Mapping[int, int] | None = None,
    ) -> None:
        self.rule = rule
        self.rungs = rung_rounds(rule, max_rounds) if max_rounds else ()
        # Folds (by training rows, `train_sizes`) whose trials carry rungs but no thresholds.
        self.exempt_folds = smallest_folds(train_sizes or {}, rule.exempt_smallest_folds)
        # combo_id -> the folds rungs judged it on (rule.rung_folds).
        self._judged: dict[str, set[int]] = {}
        # fold -> rung -> run -> score
        self._reached: dict[int, dict[int, dict[Any, float]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        self._metrics: set[str] = set()
        self._seen: set[str] = set()
        # fold -> its thresholds, until a new score of the fold arrives.
        self._cached: dict[int, Thresholds] = {}
        self._n_reused = 0

    def add(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Take finished trials' records (a trial already taken is skipped)."""
        if not self.rule.active:
            return
        for record in records:
            if record["trial_id"] in self._seen or record.get(STATUS) not in (OK, PRUNED):
                continue
            scores = _rung_scores(record)
            if not scores:
                continue
            self._seen.add(record["trial_id"])
            self._metrics.add(record["rung_metric"])
            if len(self._metrics) > 1:
                raise ValueError(
                    f"rung scores of several metrics {sorted(self._metrics)}: one search has one"
                )
            fold_id = int(record["fold_id"])
            self._cached.pop(fold_id, None)
            for rung, score in scores.items():
                self._reached[fold_id][rung][_run_key(record)] = score

    def add_reused(self, reused: Mapping[str, Mapping[str, Any]]) -> None:
        """Take a search's reused records (trial_id -> record, a dict that only grows: read
        again only when it grew)."""
        if len(reused) != self._n_reused:
            self.add(reused.values())
            self._n_reused = len(reused)

    def thresholds(self, fold_id: int | None = None) -> dict[int, Thresholds]:
        """fold_id -> its thresholds (of every fold, or of `fold_id` only); see fold_thresholds."""
        if not self._metrics:
            return {}
        higher_is_better = validation_higher_is_better(next(iter(self._metrics)))
        folds = sorted(self._reached) if fold_id is None else [fold_id]
        thresholds = {}
        for fold in folds:
            kept = []
            for rung, runs in sorted(self._reached.get(fold, {}).items()):
                if len(runs) < self.rule.min_trials:
                    continue
                ranked = sorted(runs.values(), reverse=higher_is_better)
                score = ranked[math.ceil(len(ranked) / self.rule.eta) - 1]
                margin = self.rule.margin if higher_is_better else -self.rule.margin
                kept.append((rung, score - margin))
            if kept:
                thresholds[fold] = tuple(kept)
        return thresholds

    def carry(self, group: list[TrialSpec], *, may_prune: bool = True) -> list[TrialSpec]:
        """The group with the search's rungs and its fold's latest thresholds. None yet (the
        first trials of a fold), none on an exempt fold, none while `may_prune` is false (an
        adaptive search below rule.min_complete) and none on a combination's folds after the
        first rule.rung_folds it was judged on: those trials run unpruned, noting rung scores."""
        if not self.rungs:
            return group
        return [
            dataclasses.replace(
                spec,
                rungs=self.rungs,
                rung_thresholds=self._fold_thresholds(int(spec.fold_id))
                if may_prune and self._judged_on(spec)
                else (),
            )
            for spec in group
        ]

    def _judged_on(self, spec: TrialSpec) -> bool:
        """Whether rungs may judge `spec`'s combination on its fold (exempt_smallest_folds,
        rung_folds); a fold allowed once stays allowed (a task submitted again)."""
        fold_id = int(spec.fold_id)
        if fold_id in self.exempt_folds:
            return False
        if not self.rule.rung_folds:
            return True
        judged = self._judged.setdefault(spec.combo_id, set())
        if fold_id not in judged and len(judged) >= self.rule.rung_folds:
            return False
        judged.add(fold_id)
        return True

    def _fold_thresholds(self, fold_id: int) -> Thresholds:
        if fold_id not in self._cached:
            self._cached[fold_id] = self.thresholds(fold_id).get(fold_id, ())
        return self._cached[fold_id]


def smallest_folds(n_train: Mapping[int, int], k: int) -> frozenset[int]:
    """The ids of the k folds with the fewest training rows (ties: the lower id)."""
    return frozenset(sorted(n_train, key=lambda fold_id: (n_train[fold_id], fold_id))[:k])


def pruned_at_rung(record: Mapping[str, Any]) -> int | None:
    """The rung round a trial was pruned at inside its boosting run; None when it was not (a
    fold the fold-wise pruner stopped after it ran has status pruned but no rung)."""
    rung = record.get("pruned_at_round")
    if record.get(STATUS) != PRUNED or rung is None or pd.isna(rung):
        return None
    return int(rung)


def rung_info(
    records: Iterable[Mapping[str, Any]],
    specs_of: Callable[[Iterable[str]], list[TrialSpec]],
) -> dict[str, Any]:
    """What `tuning_run_info` says of round-wise pruning: the trials pruned at a rung (per rung)
    and the boosting rounds cut there, counted per pruned boosting run as its longest cap minus
    the rung (an upper bound: early stopping might have ended some runs sooner)."""
    pruned = {record["trial_id"]: rung for record in records if (rung := pruned_at_rung(record))}
    per_rung: dict[int, int] = defaultdict(int)
    cut: dict[tuple[int, str], int] = {}
    for spec in specs_of(pruned):
        rung = pruned[spec.trial_id]
        per_rung[rung] += 1
        run = (int(spec.fold_id), json.dumps(spec.params, sort_keys=True, default=str))
        cut[run] = max(cut.get(run, 0), spec.num_boost_round - rung)
    return {
        "n_pruned_at_rung": len(pruned),
        "pruned_at_rung": {str(rung): n for rung, n in sorted(per_rung.items())},
        "boosting_rounds_cut_at_rungs": sum(cut.values()),
    }
