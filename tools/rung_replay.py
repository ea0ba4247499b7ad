"""Round-wise pruning replayed offline: would a pruned search keep the full search's winner?

    python -m tools.rung_replay --size seed --rows 4000 --out docs/benchmarks/rung-replay-seed
    python -m tools.rung_replay --size seed --rows 4000 --combinations 24 \
        --out docs/benchmarks/rung-replay-adaptive-seed

Runs every (combination, fold) once, unpruned, with the project's own trial code
(`trial.run_trial` on the driver, one thread, its validation metric noted at every round as rung
scores), then replays those rows through `rungs.RungLadder` for each rule setting. The data is a
time-to-target size's synthetic table, or a prepared `model_input.parquet` and
`model_folds.parquet` (`--input-dir`, as the preparation pipeline writes them).

Grid mode (the default): the size's grid, in the order a longest-first grid submits it (largest
fold first, grid order within a fold): a trial gets the thresholds of the rows finished `--slots`
submissions before it, and stops at the first rung where its noted score is worse. Per setting:
trials pruned, boosting rounds spent (share of the unpruned grid's), and whether every fold of
the full grid's winner (best mean primary metric) survives (`keeps_winner`) or else the gap to
the best combination the pruned grid completes.

Adaptive mode (`--combinations N`): N combinations drawn with a seeded RNG from the size's
ranges, replayed as the adaptive search runs them: in drawn order, each combination's folds
cheapest first (fewest training rows) one after another, `--slots` folds at once, a fold's
thresholds from the runs finished when it starts (time counted in boosting rounds); a
combination pruned at a rung on any fold runs no further fold. Besides the grid's settings, two
knobs: `exempt_smallest_folds` (no thresholds on the k folds with the fewest training rows) and
`min_complete` (no thresholds until that many combinations completed every fold). Per setting:
combinations completed, the winner kept or the gap, and the rounds spent until the winner (or a
combination within TOLERANCE of it) first completed. Diagnostics per (fold, rung): the Spearman
correlation of the rung scores with the final mean, and whether ASHA's rule there would prune the
winner (of all N, and of random halves of them). An estimate, not the search: no Spark, no timing.
"""

from __future__ import annotations

import argparse
import functools
import heapq
import itertools
import json
import logging
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spark_lgbm_tuning.executor import fold_data, trial, trial_spec
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows, searched_params
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.rungs import RungLadder, fold_thresholds, rung_rounds
from spark_lgbm_tuning.pipelines.tuning.search_params import RoundPruningParams
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from spark_lgbm_tuning.vocabulary.lightgbm_params import validation_higher_is_better
from spark_lgbm_tuning.vocabulary.statuses import OK, PRUNED
from tools.benchmark_setup import Settings, Size, make_inputs
from tools.ttt_ours import tuning_params
from tools.ttt_space import TTT_SIZES, TttSize, is_range

logger = logging.getLogger(__name__)

# The settings replayed: eta x min_rounds x min_trials x margin (in the rung metric's units).
SETTINGS = {
    "eta": (2.0, 3.0),
    "min_rounds": (25, 100, 300),
    "min_trials": (2, 4, 6),
    "margin": (0.0, 0.002),
}
# The adaptive replay's: the grid's (min_trials 6 left out: an adaptive search's first fold is
# reached by few runs at first) x the two knobs of issue 31.
ADAPTIVE_SETTINGS = {
    **SETTINGS,
    "min_trials": (2, 4),
    "exempt_smallest_folds": (0, 1, 2),
    "min_complete": (0, 2, 4),
}
# A completed combination within this much (primary metric) of the true best counts as found.
TOLERANCE = 0.0005
# Random halves of the combinations the diagnostics' winner-pruning rate is taken over.
SUBSETS = 200
# A LightGBM metric whose higher values are better: the diagnostics' scores are turned so.
_HIGHER_IS_BETTER = "auc"
# What run_trial returns besides its row's fields, not kept (big, and not replayed).
_EXTRAS = (trial_spec.TEST_PREDICTIONS, trial_spec.LEARNING_CURVE)


# ------------------------------------------------------------------------------ recording


def load_arrays(
    size: TttSize, conf: Path, columns: ColumnParams, seed: int = 1, input_dir: Path | None = None
) -> FoldArrays:
    """The data and folds: `input_dir`'s model_input.parquet and model_folds.parquet (as the
    preparation pipeline writes them), else the size's synthetic table made as `kedro run`
    makes it."""
    if input_dir is not None:
        data = pd.read_parquet(input_dir / "model_input.parquet")
        folds = pd.read_parquet(input_dir / "model_folds.parquet")
    else:
        data_size = Size(size.rows, size.features, size.folds, 0, 0, size.num_boost_round, 0, 1)
        data, folds, _ = make_inputs(data_size, seed, conf, columns)
    return FoldArrays(data, fold_rows(folds, None, len(data)), columns)


def run_unpruned(
    params: TuningParams, combinations: list[dict[str, Any]], arrays: FoldArrays
) -> list[dict[str, Any]]:
    """Every (combination, fold) run in full, one thread, its rung score noted at every round.

    Rows fold by fold, combinations in the given order within a fold; combo_id `c<index>`.
    """
    rows = []
    for fold_id in sorted(arrays.rows):
        x_train, y_train, x_test, y_test = arrays.split(fold_id)
        for combo_index, combination in enumerate(combinations):
            lightgbm = {**params.lightgbm_params(combination), "num_threads": 1}
            fold = fold_data.fold_from_arrays(x_train, y_train, x_test, y_test, lightgbm)
            spec = trial_spec.TrialSpec(
                trial_id=f"c{combo_index}-f{fold_id}",
                combo_id=f"c{combo_index}",
                fold_id=fold_id,
                task=params.task,
                params=lightgbm,
                grid_values=combination,
                num_boost_round=params.rounds(combination),
                early_stopping_rounds=params.early_stopping_rounds,
                rungs=tuple(range(1, params.rounds(combination) + 1)),
            )
            row = trial.run_trial(spec, fold)
            for extra in _EXTRAS:
                row.pop(extra, None)
            row["params_json"] = json.dumps(lightgbm, sort_keys=True)
            rows.append(row)
            logger.info("%s: %s, %s rounds", spec.trial_id, row["status"], row["best_iteration"])
    return rows


def record_rows(
    size: TttSize,
    conf: Path,
    columns: ColumnParams,
    seed: int = 1,
    input_dir: Path | None = None,
) -> tuple[TuningParams, list[dict[str, Any]]]:
    """Every (combination, fold) of `size`'s grid run unpruned, rung scores at every round."""
    arrays = load_arrays(size, conf, columns, seed, input_dir)
    params = searched_params(tuning_params(size, conf), arrays)
    return params, run_unpruned(params, list(params.combinations()), arrays)


def sample_combinations(ranges: Mapping[str, Any], n: int, seed: int) -> list[dict[str, Any]]:
    """`n` combinations drawn uniformly from `ranges` (log-uniform where `log`; an int range over
    [low - 0.5, high + 0.5] rounded, as Optuna's suggest_int; a list: one of its values)."""
    rng = np.random.default_rng(seed)
    combinations = []
    for _ in range(n):
        combination: dict[str, Any] = {}
        for name, spec in ranges.items():
            if not is_range(spec):
                combination[name] = list(spec)[int(rng.integers(len(spec)))]
                continue
            low, high = (
                (spec["low"] - 0.5, spec["high"] + 0.5)
                if spec.get("int")
                else (
                    spec["low"],
                    spec["high"],
                )
            )
            value = (
                math.exp(rng.uniform(math.log(low), math.log(high)))
                if spec.get("log")
                else rng.uniform(low, high)
            )
            if spec.get("int"):
                value = min(max(round(value), int(spec["low"])), int(spec["high"]))
            combination[name] = float(value) if not spec.get("int") else int(value)
        combinations.append(combination)
    return combinations


def record_adaptive_rows(
    size: TttSize,
    conf: Path,
    columns: ColumnParams,
    n_combinations: int,
    *,
    seed: int = 1,
    sample_seed: int = 0,
    input_dir: Path | None = None,
) -> tuple[TuningParams, list[dict[str, Any]], list[dict[str, Any]]]:
    """(params, rows, combinations): `n_combinations` drawn from `size`'s ranges, every fold of
    each run unpruned (the grid's fixed parameters, cap and patience)."""
    arrays = load_arrays(size, conf, columns, seed, input_dir)
    params = searched_params(tuning_params(size, conf), arrays)
    combinations = sample_combinations(size.ranges, n_combinations, sample_seed)
    return params, run_unpruned(params, combinations, arrays), combinations


# ------------------------------------------------------------------------------ grid replay


def _grid_order(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Longest-first as the grid submits equal-cap trials: largest fold first, then grid order."""
    return sorted(rows, key=lambda row: -int(row["fold_id"]))


def _rounds_run(row: Mapping[str, Any]) -> int:
    return max(_curve(row))


def _curve(row: Mapping[str, Any]) -> dict[int, float]:
    """The row's rung scores (every round) by round; parsed once per distinct text."""
    return _parsed(row["rung_scores"])


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> dict[int, float]:
    return {int(rung): float(score) for rung, score in json.loads(text).items()}


def _stop(
    noted: Mapping[int, float], rungs: Iterable[int], thresholds: Mapping[int, float], higher: bool
) -> tuple[int | None, dict[str, float]]:
    """(the rung a run with these noted scores stops at, or None; the rung scores it notes)."""
    kept = {}
    for rung in rungs:
        if rung not in noted:
            break
        kept[str(rung)] = noted[rung]
        threshold = thresholds.get(rung)
        if threshold is not None and (
            noted[rung] < threshold if higher else noted[rung] > threshold
        ):
            return rung, kept
    return None, kept


def replay(
    rows: list[Mapping[str, Any]],
    rule: RoundPruningParams,
    params: TuningParams,
    *,
    slots: int = 2,
) -> dict[str, Any]:
    """One rule replayed over `rows` (noted at every round): pruned trials, rounds, the winner."""
    rungs = rung_rounds(rule, params.max_rounds)
    replayed: list[dict[str, Any]] = []
    pruned: set[tuple[str, int]] = set()
    spent = 0
    for index, row in enumerate(_grid_order(rows)):
        finished = replayed[: max(0, index - slots + 1)]
        thresholds = dict(fold_thresholds(finished, rule).get(int(row["fold_id"]), ()))
        higher = validation_higher_is_better(row["rung_metric"])
        stop, kept = _stop(_curve(row), rungs, thresholds, higher)
        spent += stop or _rounds_run(row)
        if stop is not None:
            pruned.add((row["combo_id"], int(row["fold_id"])))
        replayed.append(
            {
                **row,
                "status": PRUNED if stop is not None else OK,
                "rung_scores": json.dumps(kept) if kept else None,
            }
        )
    return {
        **rule.model_dump(exclude={"rule"}),
        **_outcome(rows, pruned, params.primary_metric, params.higher_is_better),
        "n_trials": len(rows),
        "n_pruned": len(pruned),
        "rounds_share": spent / sum(_rounds_run(row) for row in rows),
    }


def _means(rows: Iterable[Mapping[str, Any]], metric: str) -> dict[str, float]:
    """combo_id -> its mean primary metric over its folds, in the order combos first appear."""
    scores: dict[str, list[float]] = {}
    for row in rows:
        scores.setdefault(row["combo_id"], []).append(float(row[metric]))
    return {combo: float(np.mean(values)) for combo, values in scores.items()}


def _outcome(
    rows: list[Mapping[str, Any]], pruned: set[tuple[str, int]], metric: str, higher: bool
) -> dict[str, Any]:
    """Whether the full grid's winner completes, else the gap to the best complete one."""
    means = _means(rows, metric)
    pick = max if higher else min
    winner = pick(means, key=means.__getitem__)
    complete = [combo for combo in means if not any(key[0] == combo for key in pruned)]
    best = pick(complete, key=means.__getitem__) if complete else None
    return {
        "keeps_winner": winner in complete,
        "gap": None if best is None else abs(means[winner] - means[best]),
    }


def _rule(values: Mapping[str, Any]) -> RoundPruningParams:
    return RoundPruningParams(
        rule="asha", **{name: values[name] for name in SETTINGS if name in values}
    )


def replay_all(
    rows: list[Mapping[str, Any]], params: TuningParams, *, slots: int = 2
) -> list[dict[str, Any]]:
    """Every setting of SETTINGS replayed."""
    return [
        replay(rows, _rule(dict(zip(SETTINGS, values, strict=True))), params, slots=slots)
        for values in itertools.product(*SETTINGS.values())
    ]


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
        exempt_smallest_folds: int,
        min_complete: int,
    ) -> None:
        self.by_key = {(row["combo_id"], int(row["fold_id"])): row for row in rows}
        self.folds = fold_order(rows)
        self.exempt = set(self.folds[:exempt_smallest_folds])
        self.min_complete = min_complete
        self.rungs = rung_rounds(rule, params.max_rounds)
        self.ladder = RungLadder(rule)
        self.pending = list(_means(rows, params.primary_metric))  # not yet proposed, in order
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
        thresholds = {} if gated else dict(self.ladder.thresholds(fold_id).get(fold_id, ()))
        noted = _curve(row)
        higher = validation_higher_is_better(row["rung_metric"])
        stop, kept = _stop(noted, self.rungs, thresholds, higher)
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
    tolerance: float = TOLERANCE,
) -> dict[str, Any]:
    """One rule replayed over `rows` in an adaptive search's order.

    Combinations in the order they first appear in `rows` (drawn order), each one's folds
    cheapest first, one fold of a combination at a time; a freed slot takes the next fold of the
    oldest live combination, else the next combination's first fold. Time is counted in
    boosting rounds (a run lasts the rounds it runs); a fold starts with the thresholds of the
    runs finished by then, none on the `exempt_smallest_folds` cheapest folds nor while fewer than
    `min_complete` combinations completed every fold. A combination stopped at a rung on any fold
    is pruned and runs no further fold. rounds_*: shares of the rounds of every row run in full.
    """
    means = _means(rows, params.primary_metric)
    pick = max if params.higher_is_better else min
    winner = pick(means, key=means.__getitem__)
    found = {combo for combo, mean in means.items() if abs(mean - means[winner]) <= tolerance}
    run = _AdaptiveRun(rows, rule, params, exempt_smallest_folds, min_complete)
    run.run(slots)
    complete = run.complete
    unpruned = sum(max(_curve(row)) for row in rows)
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
        if not rung_rounds(_rule(setting), params.max_rounds):
            continue
        results.append(
            replay_adaptive(
                rows,
                _rule(setting),
                params,
                slots=slots,
                exempt_smallest_folds=setting["exempt_smallest_folds"],
                min_complete=setting["min_complete"],
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
    means = {combo: sign * mean for combo, mean in _means(rows, params.primary_metric).items()}
    result = []
    for fold_id in fold_order(rows):
        members = [row for row in rows if int(row["fold_id"]) == fold_id]
        curves = {row["combo_id"]: _curve(row) for row in members}
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


# ------------------------------------------------------------------------------ reports


def markdown(results: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    columns = columns or [*SETTINGS, "n_pruned", "n_trials", "rounds_share", "keeps_winner", "gap"]
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for result in results:
        cells = [
            f"{value:.4g}" if isinstance(value, float) else "-" if value is None else str(value)
            for value in (result[column] for column in columns)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.rung_replay", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--size", choices=sorted(TTT_SIZES), default="seed")
    parser.add_argument("--rows", type=int, help="override the size's rows")
    parser.add_argument("--seed", type=int, default=1, help="data seed")
    parser.add_argument(
        "--input-dir",
        type=Path,
        help="a folder with model_input.parquet and model_folds.parquet (the preparation "
        "pipeline's): replay that data instead of the size's synthetic table",
    )
    parser.add_argument(
        "--combinations",
        type=int,
        help="adaptive mode: replay this many combinations drawn from the size's ranges",
    )
    parser.add_argument("--sample-seed", type=int, default=0, help="adaptive mode: draw seed")
    parser.add_argument("--slots", type=int, default=2, help="trials running at once")
    parser.add_argument("--top", type=int, default=15, help="adaptive mode: settings ranked")
    parser.add_argument("--project", type=Path, default=Path.cwd(), help="project root")
    parser.add_argument("--out", type=Path, help="write OUT.json and OUT.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    size = TTT_SIZES[args.size]
    if args.rows:
        size = replace(size, rows=args.rows)
    settings = Settings(project=args.project)
    report: dict[str, Any]
    if args.combinations:
        params, rows, combinations = record_adaptive_rows(
            size,
            settings.conf,
            settings.columns,
            args.combinations,
            seed=args.seed,
            sample_seed=args.sample_seed,
            input_dir=args.input_dir,
        )
        rule = RoundPruningParams(rule="asha")
        found = diagnostics(rows, params, diagnostic_rounds(params, ADAPTIVE_SETTINGS), rule)
        results = replay_adaptive_all(rows, params, slots=args.slots)
        means = _means(rows, params.primary_metric)
        report = {
            "combinations": [
                {"combo_id": f"c{index}", **values, params.primary_metric: means[f"c{index}"]}
                for index, values in enumerate(combinations)
            ],
            "diagnostics": found,
            "results": results,
        }
        table = adaptive_markdown(results, found, rule, args.top)
    else:
        params, rows = record_rows(size, settings.conf, settings.columns, args.seed, args.input_dir)
        results = replay_all(rows, params, slots=args.slots)
        report = {"results": results}
        table = markdown(results)
    if args.out:
        command = " ".join(["python -m tools.rung_replay", *(argv or sys.argv[1:])])
        args.out.with_suffix(".json").write_text(
            json.dumps({"command": command, **report}, indent=2)
        )
        args.out.with_suffix(".md").write_text(f"`{command}`\n\n{table}")
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
