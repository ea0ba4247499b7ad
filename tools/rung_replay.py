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
import itertools
import json
import logging
import sys
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.rungs import fold_thresholds, rung_rounds
from spark_lgbm_tuning.pipelines.tuning.search_params import RoundPruningParams
from spark_lgbm_tuning.vocabulary.lightgbm_params import validation_higher_is_better
from spark_lgbm_tuning.vocabulary.statuses import OK, PRUNED
from tools.benchmark_setup import Settings
from tools.rung_replay_adaptive import (
    ADAPTIVE_SETTINGS,
    adaptive_markdown,
    diagnostic_rounds,
    diagnostics,
    replay_adaptive_all,
)
from tools.rung_replay_rows import (
    SETTINGS,
    asha_rule,
    combo_means,
    curve,
    markdown,
    record_adaptive_rows,
    record_rows,
    rounds_run,
    stop_at,
)
from tools.ttt_space import TTT_SIZES


def _grid_order(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Longest-first as the grid submits equal-cap trials: largest fold first, then grid order."""
    return sorted(rows, key=lambda row: -int(row["fold_id"]))


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
        stop, kept = stop_at(curve(row), rungs, thresholds, higher)
        spent += stop or rounds_run(row)
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
        "rounds_share": spent / sum(rounds_run(row) for row in rows),
    }


def _outcome(
    rows: list[Mapping[str, Any]], pruned: set[tuple[str, int]], metric: str, higher: bool
) -> dict[str, Any]:
    """Whether the full grid's winner completes, else the gap to the best complete one."""
    means = combo_means(rows, metric)
    pick = max if higher else min
    winner = pick(means, key=means.__getitem__)
    complete = [combo for combo in means if not any(key[0] == combo for key in pruned)]
    best = pick(complete, key=means.__getitem__) if complete else None
    return {
        "keeps_winner": winner in complete,
        "gap": None if best is None else abs(means[winner] - means[best]),
    }


def replay_all(
    rows: list[Mapping[str, Any]], params: TuningParams, *, slots: int = 2
) -> list[dict[str, Any]]:
    """Every setting of SETTINGS replayed."""
    return [
        replay(rows, asha_rule(dict(zip(SETTINGS, values, strict=True))), params, slots=slots)
        for values in itertools.product(*SETTINGS.values())
    ]


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
        means = combo_means(rows, params.primary_metric)
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
