"""Round-wise pruning replayed in an adaptive search's order (`python -m tools.rung_replay
--combinations N`): combinations in drawn order, each one's folds cheapest first, a fold's
thresholds from the runs finished when it starts, with issue 31's two knobs
(`exempt_smallest_folds`, `min_complete`); and diagnostics per (fold, rung) against the final
mean. See tools/rung_replay.py."""

from __future__ import annotations

import heapq
import itertools
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.rungs import RungLadder, rung_rounds
from spark_lgbm_tuning.pipelines.tuning.search_params import RoundPruningParams
from spark_lgbm_tuning.vocabulary.lightgbm_params import validation_higher_is_better
from spark_lgbm_tuning.vocabulary.statuses import OK, PRUNED
from tools.rung_replay_rows import (
    SETTINGS,
    TOLERANCE,
    asha_rule,
    combo_means,
    curve,
    markdown,
    stop_at,
)

# The adaptive replay's: the grid's (min_trials 6 left out: an adaptive search's first fold is
# reached by few runs at first) x the two knobs of issue 31.
ADAPTIVE_SETTINGS = {
    **SETTINGS,
    "min_trials": (2, 4),
    "exempt_smallest_folds": (0, 1, 2),
    "min_complete": (0, 2, 4),
    # Rungs judge a combination on its first k judged folds only (0: on every fold): survival
    # at the top 1/eta compounds over folds x rungs otherwise.
    "rung_folds": (0, 1),
}
# Random halves of the combinations the diagnostics' winner-pruning rate is taken over.
SUBSETS = 200
# A LightGBM metric whose higher values are better: the diagnostics' scores are turned so.
_HIGHER_IS_BETTER = "auc"


# ------------------------------------------------------------------------------ adaptive replay


def fold_order(rows: Iterable[Mapping[str, Any]]) -> list[int]:
    """The folds cheapest first, as the adaptive search runs them: fewest training rows."""
    n_train = {int(row["fold_id"]): int(row["n_train"]) for row in rows}
    return sorted(n_train, key=lambda fold_id: (n_train[fold_id], fold_id))


class _AdaptiveRun:
    """The adaptive search's schedule over full rows, in boosting rounds (see replay_adaptive)."""

    def __init__(
        self,
        rows: list[Mapping[str, Any]],
        rule: RoundPruningParams,
        params: TuningParams,
        *,
        exempt_smallest_folds: int,
        min_complete: int,
        rung_folds: int,
    ) -> None:
        self.by_key = {(row["combo_id"], int(row["fold_id"])): row for row in rows}
        self.folds = fold_order(rows)
        self.exempt = set(self.folds[:exempt_smallest_folds])
        self.min_complete = min_complete
        self.rung_folds = rung_folds
        self.judged: dict[str, int] = {}  # combo -> folds it ran with thresholds allowed
        self.rungs = rung_rounds(rule, params.max_rounds)
        self.ladder = RungLadder(rule)
        self.pending = list(combo_means(rows, params.primary_metric))  # not yet proposed, in order
        self.live: dict[str, int] = {}  # combo -> index of its next fold in `folds`
        self.running: set[str] = set()
        self.complete: dict[str, float] = {}  # combo -> when it completed
        self.pruned: dict[str, int] = {}  # combo -> the fold it was pruned on
        self.runs: list[tuple[float, float]] = []  # (start, end) of every run
        self.events: list[tuple[float, int, str, int, int | None, dict[str, float]]] = []

    def run(self, slots: int) -> None:
        now = 0.0
        while True:
            while len(self.events) < slots and self._start(now):
                pass
            if not self.events:
                return
            now = self.events[0][0]
            while self.events and self.events[0][0] == now:
                self._finish(now, heapq.heappop(self.events))

    def _start(self, now: float) -> bool:
        """Start the next fold of the oldest live combination not running, else the next
        combination's first fold; False when there is none."""
        combo = next((combo for combo in self.live if combo not in self.running), None)
        if combo is None:
            if not self.pending:
                return False
            combo = self.pending.pop(0)
            self.live[combo] = 0
        fold_id = self.folds[self.live[combo]]
        row = self.by_key[(combo, fold_id)]
        gated = fold_id in self.exempt or len(self.complete) < self.min_complete
        if not gated:
            gated = bool(self.rung_folds) and self.judged.get(combo, 0) >= self.rung_folds
            self.judged[combo] = self.judged.get(combo, 0) + (not gated)
        thresholds = {} if gated else dict(self.ladder.thresholds(fold_id).get(fold_id, ()))
        noted = curve(row)
        higher = validation_higher_is_better(row["rung_metric"])
        stop, kept = stop_at(noted, self.rungs, thresholds, higher)
        end = now + (stop or max(noted))
        self.runs.append((now, end))
        self.running.add(combo)
        heapq.heappush(self.events, (end, len(self.runs), combo, fold_id, stop, kept))
        return True

    def _finish(self, now: float, event: tuple) -> None:
        _, _, combo, fold_id, stop, kept = event
        row = self.by_key[(combo, fold_id)]
        status = PRUNED if stop is not None else OK
        self.ladder.add([{**row, "status": status, "rung_scores": json.dumps(kept)}])
        self.running.discard(combo)
        if stop is not None:
            self.pruned[combo] = fold_id
            del self.live[combo]
        elif self.live[combo] == len(self.folds) - 1:
            self.complete[combo] = now
            del self.live[combo]
        else:
            self.live[combo] += 1

    def spent_by(self, when: float | None) -> float | None:
        """Rounds run by every run until `when` (None: never)."""
        if when is None:
            return None
        return sum(min(end, when) - begin for begin, end in self.runs if begin < when)


def replay_adaptive(
    rows: list[Mapping[str, Any]],
    rule: RoundPruningParams,
    params: TuningParams,
    *,
    slots: int = 2,
    exempt_smallest_folds: int = 0,
    min_complete: int = 0,
    rung_folds: int = 0,
    tolerance: float = TOLERANCE,
) -> dict[str, Any]:
    """One rule replayed over `rows` in an adaptive search's order.

    Combinations in the order they first appear in `rows` (drawn order), each one's folds
    cheapest first, one fold of a combination at a time; a freed slot takes the next fold of the
    oldest live combination, else the next combination's first fold. Time is counted in
    boosting rounds (a run lasts the rounds it runs); a fold starts with the thresholds of the
    runs finished by then, none on the `exempt_smallest_folds` cheapest folds nor while fewer than
    `min_complete` combinations completed every fold, and none on a combination's folds after the
    first `rung_folds` it ran with thresholds allowed (0: every fold). A combination stopped at a rung on any fold
    is pruned and runs no further fold. rounds_*: shares of the rounds of every row run in full.
    """
    means = combo_means(rows, params.primary_metric)
    pick = max if params.higher_is_better else min
    winner = pick(means, key=means.__getitem__)
    found = {combo for combo, mean in means.items() if abs(mean - means[winner]) <= tolerance}
    run = _AdaptiveRun(
        rows,
        rule,
        params,
        exempt_smallest_folds=exempt_smallest_folds,
        min_complete=min_complete,
        rung_folds=rung_folds,
    )
    run.run(slots)
    complete = run.complete
    unpruned = sum(max(curve(row)) for row in rows)
    best = pick(complete, key=means.__getitem__) if complete else None
    first_found = min((complete[combo] for combo in found if combo in complete), default=None)
    to_winner, to_target = run.spent_by(complete.get(winner)), run.spent_by(first_found)
    setting = rule.model_dump(exclude={"rule"})
    return {
        "rule": rule.rule,
        # No pruning: its settings say nothing.
        **(setting if rule.active else dict.fromkeys(setting)),
        "exempt_smallest_folds": exempt_smallest_folds,
        "min_complete": min_complete,
        "rung_folds": rung_folds,
        "n_combinations": len(means),
        "n_complete": len(complete),
        "pruned_by_fold": " ".join(
            f"{fold_id}:{sum(1 for fold in run.pruned.values() if fold == fold_id)}"
            for fold_id in run.folds
        ),
        "keeps_winner": winner in complete,
        "winner_pruned_on": run.pruned.get(winner),
        "gap": None if best is None else abs(means[winner] - means[best]),
        "within_tolerance": best is not None and best in found,
        "rounds_share": sum(end - begin for begin, end in run.runs) / unpruned,
        "rounds_to_winner": None if to_winner is None else to_winner / unpruned,
        "rounds_to_target": None if to_target is None else to_target / unpruned,
    }


def replay_adaptive_all(
    rows: list[Mapping[str, Any]], params: TuningParams, *, slots: int = 2
) -> list[dict[str, Any]]:
    """No pruning (the baseline), then every setting of ADAPTIVE_SETTINGS with a rung below the
    cap replayed (one without is the baseline again)."""
    results = [replay_adaptive(rows, RoundPruningParams(rule="none"), params, slots=slots)]
    for values in itertools.product(*ADAPTIVE_SETTINGS.values()):
        setting = dict(zip(ADAPTIVE_SETTINGS, values, strict=True))
        if not rung_rounds(asha_rule(setting), params.max_rounds):
            continue
        results.append(
            replay_adaptive(
                rows,
                asha_rule(setting),
                params,
                slots=slots,
                exempt_smallest_folds=setting["exempt_smallest_folds"],
                min_complete=setting["min_complete"],
                rung_folds=setting["rung_folds"],
            )
        )
    return results


def ranked(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Settings best first: the winner kept, then fewest rounds until a combination within
    TOLERANCE of the winner completed (never: last), then fewest rounds in all."""
    return sorted(
        results,
        key=lambda result: (
            not result["keeps_winner"],
            math.inf if result["rounds_to_target"] is None else result["rounds_to_target"],
            result["rounds_share"],
        ),
    )


# ------------------------------------------------------------------------------ diagnostics


def _spearman(a: list[float], b: list[float]) -> float | None:
    """Spearman's rank correlation (ties: average ranks); None below 3 values or when constant."""
    if len(a) < 3:
        return None
    value = pd.Series(a).corr(pd.Series(b), method="spearman")
    return None if pd.isna(value) else float(value)


def _pruned(scores: Mapping[str, float], combo: str, rule: RoundPruningParams) -> bool | None:
    """Whether the product's rule (rungs.RungLadder) over `scores` (higher is better) stops
    `combo` there; None when `combo` has no score there."""
    if combo not in scores:
        return None
    ladder = RungLadder(rule)
    ladder.add(
        {
            "trial_id": name,
            "fold_id": 0,
            "status": OK,
            "rung_metric": _HIGHER_IS_BETTER,
            "rung_scores": json.dumps({"1": score}),
        }
        for name, score in scores.items()
    )
    threshold = dict(ladder.thresholds(0).get(0, ())).get(1)
    return threshold is not None and scores[combo] < threshold


def decision_diagnostics(
    scores: Mapping[str, float],
    means: Mapping[str, float],
    rule: RoundPruningParams,
    *,
    subsets: int = SUBSETS,
    seed: int = 0,
) -> dict[str, Any]:
    """One decision point (a fold at a rung, or a fold's final score) judged against the end.

    `scores`: combo -> its score there, `means`: combo -> its final mean over the folds, both
    higher-is-better. The Spearman correlation of the two over the combos with a score, the
    winner's (best mean's) rank there (1 best; None when it has no score), whether `rule` over
    all of them prunes it (top 1/eta less margin, once min_trials have a score), and how often it
    prunes the winner of a random half of the combinations (`subsets` draws; a half whose winner
    has no score there is not pruned).
    """
    combos = [combo for combo in means if combo in scores]
    winner = max(means, key=means.__getitem__)
    order = sorted(scores, key=scores.__getitem__, reverse=True)
    rng = np.random.default_rng(seed)
    names = list(means)
    half = max(2, len(names) // 2)
    lost = 0
    for _ in range(subsets):
        subset = [names[index] for index in rng.choice(len(names), half, replace=False)]
        best = max(subset, key=means.__getitem__)
        within = {combo: scores[combo] for combo in subset if combo in scores}
        lost += bool(_pruned(within, best, rule))
    return {
        "n": len(combos),
        "spearman": _spearman([scores[combo] for combo in combos], [means[c] for c in combos]),
        "winner_rank": order.index(winner) + 1 if winner in scores else None,
        "prunes_winner": _pruned(scores, winner, rule),
        "prunes_winner_rate": lost / subsets if subsets else None,
    }


def diagnostics(
    rows: list[Mapping[str, Any]],
    params: TuningParams,
    rounds: Iterable[int],
    rule: RoundPruningParams,
    *,
    subsets: int = SUBSETS,
) -> list[dict[str, Any]]:
    """decision_diagnostics per fold (cheapest first) at each of `rounds` the runs reached (their
    rung scores there) and at the fold's end (`round` "final": its primary metric, the
    fold-wise view)."""
    sign = 1.0 if params.higher_is_better else -1.0
    means = {combo: sign * mean for combo, mean in combo_means(rows, params.primary_metric).items()}
    result = []
    for fold_id in fold_order(rows):
        members = [row for row in rows if int(row["fold_id"]) == fold_id]
        curves = {row["combo_id"]: curve(row) for row in members}
        rung_sign = 1.0 if validation_higher_is_better(members[0]["rung_metric"]) else -1.0
        points: list[tuple[int | str, dict[str, float]]] = [
            (
                at,
                {combo: rung_sign * curve[at] for combo, curve in curves.items() if at in curve},
            )
            for at in sorted(set(rounds))
        ]
        points.append(
            ("final", {row["combo_id"]: sign * row[params.primary_metric] for row in members})
        )
        for at, scores in points:
            if len(scores) < 2:
                continue
            result.append(
                {
                    "fold_id": fold_id,
                    "n_train": int(members[0]["n_train"]),
                    "round": at,
                    **decision_diagnostics(scores, means, rule, subsets=subsets),
                }
            )
    return result


def diagnostic_rounds(params: TuningParams, settings: Mapping[str, Iterable[Any]]) -> list[int]:
    """The rungs of every (eta, min_rounds) of `settings` below the cap."""
    rounds: set[int] = set()
    for eta, min_rounds in itertools.product(settings["eta"], settings["min_rounds"]):
        rule = RoundPruningParams(rule="asha", eta=eta, min_rounds=min_rounds)
        rounds.update(rung_rounds(rule, params.max_rounds))
    return sorted(rounds)


ADAPTIVE_COLUMNS = [
    "rule",
    *ADAPTIVE_SETTINGS,
    "n_complete",
    "pruned_by_fold",
    "keeps_winner",
    "winner_pruned_on",
    "gap",
    "within_tolerance",
    "rounds_share",
    "rounds_to_winner",
    "rounds_to_target",
]
DIAGNOSTIC_COLUMNS = [
    "fold_id",
    "n_train",
    "round",
    "n",
    "spearman",
    "winner_rank",
    "prunes_winner",
    "prunes_winner_rate",
]


def adaptive_markdown(
    results: list[dict[str, Any]], rows: list[dict[str, Any]], rule: RoundPruningParams, top: int
) -> str:
    """The adaptive report: the settings ranked (top ones), the diagnostics, every setting."""
    order = ranked(results)
    default = RoundPruningParams(rule="asha")
    place = {id(result): index + 1 for index, result in enumerate(order)}
    marked = [
        result
        for result in results
        if result["rule"] == "none"
        or (
            all(result[name] == value for name, value in default.model_dump().items())
            and result["exempt_smallest_folds"] == 0
            and result["min_complete"] == 0
            and result["rung_folds"] == 0
        )
    ]
    return "\n".join(
        [
            f"## Settings ranked (keeps winner, then rounds until within {TOLERANCE:g})",
            "",
            "rounds_*: boosting rounds spent (share of every run unpruned) in all / until the "
            f"winner / a combination within {TOLERANCE:g} of it first completed; "
            "pruned_by_fold: fold_id:combinations pruned on it, cheapest fold first; "
            "winner_pruned_on: the fold the winner was pruned on.",
            "",
            markdown(
                [{**result, "place": place[id(result)]} for result in order[:top]],
                ["place", *ADAPTIVE_COLUMNS],
            ),
            "No pruning and the product's default (eta 3, min_rounds 100, min_trials 4, "
            "margin 0.002, no exemption), with their places:",
            "",
            markdown(
                [{**result, "place": place[id(result)]} for result in marked],
                ["place", *ADAPTIVE_COLUMNS],
            ),
            f"## Decisions per (fold, round) against the final mean (eta {rule.eta:g}, "
            f"min_trials {rule.min_trials}, margin {rule.margin:g})",
            "",
            "spearman: rank correlation of the rung score (round) or the fold's primary metric "
            "(final) with the final mean over all folds; winner_rank: the winner's rank there; "
            "prunes_winner: the rule (top 1/eta less margin) over all of them would stop it; "
            f"prunes_winner_rate: over {SUBSETS} random halves, how often it stops the half's "
            "winner.",
            "",
            markdown(rows, DIAGNOSTIC_COLUMNS),
            "## Every setting",
            "",
            markdown(results, ADAPTIVE_COLUMNS),
        ]
    )
