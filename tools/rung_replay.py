"""Round-wise pruning replayed offline: would a pruned grid keep the full grid's winner?

    python -m tools.rung_replay --size seed --rows 4000 --out docs/benchmarks/rung-replay-seed

Runs every (combination, fold) of a time-to-target size once, unpruned, with the project's own
trial code (`trial.run_trial` on the driver, one thread, its validation metric noted at every
round as rung scores), then replays those rows, for each rule setting, in the order a
longest-first grid submits them (largest fold first, grid order within a fold) through
`rungs.fold_thresholds`: a trial gets the thresholds of the rows finished `--slots` submissions
before it, and stops at the first rung where its noted score is worse. Per setting: trials
pruned, boosting rounds spent (share of the unpruned grid's), and whether every fold of the full
grid's winner (best mean primary metric) survives (`keeps_winner`) or else the gap to the best
combination the pruned grid completes. An estimate, not the search: no Spark, no timing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from spark_lgbm_tuning.executor import fold_data, trial, trial_spec
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.rungs import fold_thresholds, rung_rounds
from spark_lgbm_tuning.pipelines.tuning.search_params import RoundPruningParams
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from spark_lgbm_tuning.vocabulary.lightgbm_params import validation_higher_is_better
from spark_lgbm_tuning.vocabulary.statuses import OK, PRUNED
from tools.benchmark_setup import Settings, Size, fold_indices, make_inputs, xy
from tools.ttt_ours import tuning_params
from tools.ttt_space import TTT_SIZES, TttSize

logger = logging.getLogger(__name__)

# The settings replayed: eta x min_rounds x min_trials x margin (in the rung metric's units).
SETTINGS = {
    "eta": (2.0, 3.0),
    "min_rounds": (25, 100, 300),
    "min_trials": (2, 4, 6),
    "margin": (0.0, 0.002),
}


def record_rows(
    size: TttSize, conf: Path, columns: ColumnParams, seed: int = 1
) -> tuple[TuningParams, list[dict[str, Any]]]:
    """Every (combination, fold) of `size`'s grid run unpruned, rung scores at every round."""
    params = tuning_params(size, conf)
    data_size = Size(size.rows, size.features, size.folds, 0, 0, size.num_boost_round, 0, 1)
    data, folds, _ = make_inputs(data_size, seed, conf, columns)
    _, x, y = xy(data, columns)
    rows = []
    for fold_id, train, test in fold_indices(folds, len(data)):
        for combo_index, combination in enumerate(params.combinations()):
            lightgbm = {**params.lightgbm_params(combination), "num_threads": 1}
            fold = fold_data.fold_from_arrays(x[train], y[train], x[test], y[test], lightgbm)
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
            row["params_json"] = json.dumps(lightgbm, sort_keys=True)
            rows.append(row)
            logger.info("%s: %s, %s rounds", spec.trial_id, row["status"], row["best_iteration"])
    return params, rows


def _grid_order(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Longest-first as the grid submits equal-cap trials: largest fold first, then grid order."""
    return sorted(rows, key=lambda row: -int(row["fold_id"]))


def _rounds_run(row: Mapping[str, Any]) -> int:
    return max(int(rung) for rung in json.loads(row["rung_scores"]))


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
        noted = {int(rung): score for rung, score in json.loads(row["rung_scores"]).items()}
        higher = validation_higher_is_better(row["rung_metric"])
        kept, stop = {}, None
        for rung in rungs:
            if rung not in noted:
                break
            kept[str(rung)] = noted[rung]
            threshold = thresholds.get(rung)
            if threshold is not None and (
                noted[rung] < threshold if higher else noted[rung] > threshold
            ):
                stop = rung
                break
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


def _outcome(
    rows: list[Mapping[str, Any]], pruned: set[tuple[str, int]], metric: str, higher: bool
) -> dict[str, Any]:
    """Whether the full grid's winner completes, else the gap to the best complete one."""
    means = {
        combo: float(np.mean([row[metric] for row in rows if row["combo_id"] == combo]))
        for combo in sorted({row["combo_id"] for row in rows})
    }
    pick = max if higher else min
    winner = pick(means, key=means.__getitem__)
    complete = [combo for combo in means if not any(key[0] == combo for key in pruned)]
    best = pick(complete, key=means.__getitem__) if complete else None
    return {
        "keeps_winner": winner in complete,
        "gap": None if best is None else abs(means[winner] - means[best]),
    }


def replay_all(rows: list[Mapping[str, Any]], params: TuningParams) -> list[dict[str, Any]]:
    """Every setting of SETTINGS replayed."""
    results = []
    for values in itertools.product(*SETTINGS.values()):
        rule = RoundPruningParams(rule="asha", **dict(zip(SETTINGS, values, strict=True)))
        results.append(replay(rows, rule, params))
    return results


def markdown(results: list[dict[str, Any]]) -> str:
    columns = [*SETTINGS, "n_pruned", "n_trials", "rounds_share", "keeps_winner", "gap"]
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for result in results:
        cells = [
            f"{value:.4g}" if isinstance(value, float) else str(value)
            for value in (result[column] for column in columns)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.rung_replay", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--size", choices=sorted(TTT_SIZES), default="seed")
    parser.add_argument("--rows", type=int, help="override the size's rows")
    parser.add_argument("--seed", type=int, default=1, help="data seed")
    parser.add_argument("--project", type=Path, default=Path.cwd(), help="project root")
    parser.add_argument("--out", type=Path, help="write OUT.json and OUT.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    size = TTT_SIZES[args.size]
    if args.rows:
        size = replace(size, rows=args.rows)
    settings = Settings(project=args.project)
    params, rows = record_rows(size, settings.conf, settings.columns, args.seed)
    results = replay_all(rows, params)
    table = markdown(results)
    if args.out:
        command = " ".join(["python -m tools.rung_replay", *(argv or sys.argv[1:])])
        args.out.with_suffix(".json").write_text(
            json.dumps({"command": command, "results": results}, indent=2)
        )
        args.out.with_suffix(".md").write_text(f"`{command}`\n\n{table}")
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
