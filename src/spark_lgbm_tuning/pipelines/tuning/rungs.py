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

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from spark_lgbm_tuning.lightgbm_params import validation_higher_is_better
from spark_lgbm_tuning.pipelines.tuning.params import RoundPruningParams
from spark_lgbm_tuning.statuses import OK, PRUNED

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
    if not rule.active:
        return {}
    # fold -> rung -> run -> score
    reached: dict[int, dict[int, dict[Any, float]]] = defaultdict(lambda: defaultdict(dict))
    metrics = set()
    for record in records:
        scores = _rung_scores(record)
        if record.get("status") not in (OK, PRUNED) or not scores:
            continue
        metrics.add(record["rung_metric"])
        for rung, score in scores.items():
            reached[int(record["fold_id"])][rung][_run_key(record)] = score
    if len(metrics) > 1:
        raise ValueError(f"rung scores of several metrics {sorted(metrics)}: one search has one")
    if not metrics:
        return {}
    higher_is_better = validation_higher_is_better(metrics.pop())
    thresholds = {}
    for fold_id, rungs in sorted(reached.items()):
        fold = []
        for rung, runs in sorted(rungs.items()):
            if len(runs) < rule.min_trials:
                continue
            ranked = sorted(runs.values(), reverse=higher_is_better)
            kept = ranked[math.ceil(len(ranked) / rule.eta) - 1]
            fold.append((rung, kept - rule.margin if higher_is_better else kept + rule.margin))
        if fold:
            thresholds[fold_id] = tuple(fold)
    return thresholds
