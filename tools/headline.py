"""The seed's headline, measured on our code: a sample of the reference grid, extrapolated.

The seed reported 216 classification trials (54 combinations x 4 folds) in 17 minutes. Its
notebook ran each task with n_jobs 8 (LightGBM threads), four tasks at once on a 16-core M4: about
16 cores, not four one-core workers (so ~76 core-s per trial, not 18.9). A full reference grid
takes CPU-hours with the `binary` objective (the seed's classifier boosted a `huber` loss, see
conf/reference), so run a documented sample at full scale first, e.g. every 6th combination on
the smallest fold:

    kedro run --env reference --pipelines data_generation
    kedro run --env reference --pipelines tuning \
        --params "tuning.grid.lambda_l1=[12],tuning.grid.lambda_l2=[0.1],tuning.folds=[0]"

(more folds or combinations later: the trial store keeps every finished trial, and this tool
reads the store, so every sample run counts), then summarise it from the project root (or name
it with --project):

    python tools/headline.py --out docs/benchmarks/headline

Extrapolation, in core-seconds so that machines with other core counts compare, and from CPU
time (user + system of the boosting run) so that a busy shared machine does not inflate it:
the fold with the most sampled combinations is the base; a combination also run on another fold
gives that fold's cost ratio to the base (mean over such combinations); folds without one get
the ratio interpolated linearly in training rows (through zero rows, extended linearly past the
largest measured fold). A fold's cost per trial is the base fold's mean x its ratio; the grid's
work is 54 combinations x the sum over its folds; on four cores at the sample run's efficiency
(fit seconds over wall x task slots, i.e. fit core-seconds over wall x cores) it takes
work / 16 / efficiency on the seed's 16 cores.

A summary written before that correction (4 cores) is restated without the trial store with
`python tools/headline.py --restate docs/benchmarks/headline`: its grid core-seconds and sample
efficiency are kept, the seed comparison is recomputed.

`--time-to-target docs/benchmarks/time-to-target.json` adds what the pruned grid and the best of
our adaptive methods would take for the full reference experiment by the same extrapolation: the
time-to-target benchmark's ratios (medians over its seeds, on the seed's kind of space at a
smaller size) applied to the extrapolated grid's wall on the seed's 16 cores. The pruned grid's
wall is the grid's times the median per-seed ratio of their last trial's end; the best adaptive
method reaches the grid's best (minus the benchmark's slack) after the grid's wall times the
grid's own time-to-target fraction, divided by the measured speed-up.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

from spark_lgbm_tuning.datasets.trial_store import TrialStore
from spark_lgbm_tuning.vocabulary.statuses import OK

SEED_COMBINATIONS = 54
SEED_TRIALS = 216
# Four tasks at once with n_jobs 8 LightGBM threads each, on a 16-core M4: the cores it used.
SEED_CORES = 16
SEED_WALL_S = 17 * 60
# Every finished trial of every sample run (tuning_results holds only the last run's).
STORE = "data/07_model_output/tuning_trial_store"
RUN_INFO = "data/07_model_output/tuning_run_info.json"
FOLDS = "data/05_model_input/model_folds.parquet"
TRIAL_COLUMNS = [
    "combo_id",
    "fold_id",
    "n_train",
    "best_iteration",
    "fit_s",
    "core_s",
    "peak_rss_mb",
]


def core_seconds(results: pd.DataFrame, task_cpus: int) -> pd.Series:
    """CPU seconds of each trial's boosting run: wall x utilisation x threads."""
    return results["fit_s"] * results["cpu_utilisation"].fillna(1.0) * task_cpus


def fold_train_rows(folds: pd.DataFrame) -> dict[int, int]:
    """fold_id -> training rows, from the fold table (one row per fold, split and data row)."""
    train = folds[folds["split"] == "train"]
    return {int(fold_id): int(count) for fold_id, count in train.groupby("fold_id").size().items()}


def fold_ratios(ok: pd.DataFrame, train_rows: dict[int, int]) -> tuple[int, dict[int, float]]:
    """The base fold and each fold's cost ratio to it (see the module docstring)."""
    counts = ok.groupby("fold_id")["combo_id"].nunique()
    base = int(min(counts.index, key=lambda fold_id: (-counts[fold_id], fold_id)))
    base_cost = ok[ok["fold_id"] == base].groupby("combo_id")["core_s"].mean()
    measured = {base: 1.0}
    for fold_id, group in ok[ok["fold_id"] != base].groupby("fold_id"):
        shared = group.groupby("combo_id")["core_s"].mean().reindex(base_cost.index).dropna()
        if len(shared):
            measured[int(fold_id)] = float((shared / base_cost[shared.index]).mean())
    known = sorted(measured, key=lambda fold_id: train_rows[fold_id])
    rows = [0.0, *(train_rows[fold_id] for fold_id in known)]
    values = [0.0, *(measured[fold_id] for fold_id in known)]
    ratios = {}
    for fold_id, n_rows in sorted(train_rows.items()):
        if fold_id in measured:
            ratios[fold_id] = measured[fold_id]
        elif n_rows > rows[-1]:
            ratios[fold_id] = values[-1] * n_rows / rows[-1]
        else:
            ratios[fold_id] = float(np.interp(n_rows, rows, values))
    return base, ratios


def summarise(
    results: pd.DataFrame, run_info: dict[str, Any], train_rows: dict[int, int]
) -> dict[str, Any]:
    """The sample's figures and the extrapolation to the seed's 216 trials on its 16 cores."""
    ok = results[results["status"] == OK].assign(
        core_s=lambda frame: core_seconds(frame, int(run_info.get("task_cpus", 1)))
    )
    if ok.empty:
        raise SystemExit("No ok trials in the results: nothing to extrapolate from")
    base, ratios = fold_ratios(ok, train_rows)
    base_mean = float(ok.loc[ok["fold_id"] == base, "core_s"].mean())
    fold_cost = {fold_id: base_mean * ratio for fold_id, ratio in ratios.items()}
    sampled = ok.groupby("fold_id")["core_s"].mean()
    grid_core_s = SEED_COMBINATIONS * sum(fold_cost.values())
    return {
        "sample_trials": len(results),
        "sample_ok": len(ok),
        "sample_folds": sorted(int(fold_id) for fold_id in sampled.index),
        "sample_wall_s": float(run_info["wall_s"]),
        "sample_total_cores": int(run_info["total_cores"]),
        "sample_efficiency": float(run_info["efficiency"]),
        "mean_fit_s": float(ok["fit_s"].mean()),
        "mean_core_s": float(ok["core_s"].mean()),
        "mean_rounds": float(ok["best_iteration"].mean()),
        "max_peak_rss_mb": float(ok["peak_rss_mb"].max()),
        "core_s_per_trial_by_fold": {str(k): round(v, 1) for k, v in fold_cost.items()},
        "base_fold": base,
        "fold_cost_ratios": {str(k): round(v, 3) for k, v in ratios.items()},
        "extrapolated_folds": sorted(set(fold_cost) - set(sampled.index.astype(int))),
        "core_s_per_trial": grid_core_s / (SEED_COMBINATIONS * len(fold_cost)),
        "grid_trials": SEED_COMBINATIONS * len(fold_cost),
        "grid_core_s": grid_core_s,
        **seed_comparison(grid_core_s, float(run_info["efficiency"])),
    }


def seed_comparison(grid_core_s: float, efficiency: float) -> dict[str, Any]:
    """The extrapolated grid on the seed's cores at the sample's efficiency, beside the seed."""
    return {
        "seed_cores": SEED_CORES,
        "grid_wall_s_on_seed_cores": grid_core_s / SEED_CORES / efficiency,
        "seed_wall_s": SEED_WALL_S,
        "seed_core_s_per_trial": SEED_WALL_S * SEED_CORES / SEED_TRIALS,
    }


# The search extrapolation's figures (restate replaces them all when given a report).
SEARCH_PREFIX = "search_"


def search_extrapolation(ttt: dict[str, Any], grid_wall_s: float) -> dict[str, Any]:
    """The pruned grid's and the best adaptive method's walls for the full reference experiment:
    `ttt` (a time_to_target report) ratios applied to the extrapolated grid's wall."""
    runs = {(run["method"], run["seed"]): run["figures"] for run in ttt["runs"]}
    seeds = sorted({seed for method, seed in runs if method == "grid"})
    wall_ratios = [
        runs[("grid_asha", seed)]["last_end_s"] / runs[("grid", seed)]["last_end_s"]
        for seed in seeds
        if ("grid_asha", seed) in runs
    ]
    grid = ttt["methods"]["grid"]
    to_target_fraction = float(
        np.median(
            [
                runs[("grid", seed)]["time_to_target_s"] / runs[("grid", seed)]["last_end_s"]
                for seed in seeds
            ]
        )
    )
    out: dict[str, Any] = {"from": ttt["command"]}
    if wall_ratios:
        pruned_wall_ratio = float(np.median(wall_ratios))
        out["pruned_grid_wall_ratio"] = pruned_wall_ratio
        out["pruned_grid_wall_s_on_seed_cores"] = grid_wall_s * pruned_wall_ratio
        out["pruned_grid_to_target_s_on_seed_cores"] = (
            grid_wall_s
            * to_target_fraction
            * ttt["methods"]["grid_asha"]["time_to_target_s"]
            / grid["time_to_target_s"]
        )
    out["grid_to_target_fraction"] = to_target_fraction
    out["best_ours"] = ttt["best_ours"]
    out["best_ours_speedup_vs_grid"] = ttt["speedup_vs_grid"]
    out["best_ours_to_target_s_on_seed_cores"] = (
        grid_wall_s * to_target_fraction / ttt["speedup_vs_grid"]
    )
    return {SEARCH_PREFIX + name: value for name, value in out.items()}


def restate(stored: dict[str, Any], ttt: dict[str, Any] | None = None) -> dict[str, Any]:
    """A stored headline ({"summary", "trials"}) with its seed comparison recomputed, and its
    search extrapolation from `ttt` (a time_to_target report) when given.

    The sample's figures stay; the comparison keys of any earlier version are replaced.
    """
    summary = {
        name: value
        for name, value in stored["summary"].items()
        if not name.startswith("seed_") and not name.startswith("grid_wall_s_on_")
    }
    summary.update(seed_comparison(summary["grid_core_s"], summary["sample_efficiency"]))
    if ttt is not None:
        fresh = search_extrapolation(ttt, summary["grid_wall_s_on_seed_cores"])
        summary = {
            **{
                name: value for name, value in summary.items() if not name.startswith(SEARCH_PREFIX)
            },
            **fresh,
        }
    return {"summary": summary, "trials": stored["trials"]}


def machine() -> str:
    return (
        f"{platform.processor() or platform.machine()}, {psutil.cpu_count(logical=True)} "
        f"logical cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}"
    )


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def markdown(summary: dict[str, Any], trials: pd.DataFrame) -> str:
    lines = [
        "| figure | value |",
        "| --- | --- |",
        *(f"| {name} | {_cell(value)} |" for name, value in summary.items()),
        "",
        "Per trial (sample):",
        "",
        "| " + " | ".join(trials.columns) + " |",
        "|" + " --- |" * len(trials.columns),
        *(
            "| " + " | ".join(_cell(value) for value in row) + " |"
            for row in trials.itertuples(index=False)
        ),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path.cwd(), help="the project root")
    parser.add_argument("--out", type=Path, help="write OUT.json and OUT.md")
    parser.add_argument(
        "--restate",
        type=Path,
        metavar="OUT",
        help="recompute the seed comparison of OUT.json (no trial store), rewrite OUT.json/.md",
    )
    parser.add_argument(
        "--time-to-target",
        type=Path,
        metavar="JSON",
        help="with --restate: add the pruned grid's and the best method's extrapolated walls",
    )
    args = parser.parse_args(argv)
    if args.time_to_target and not args.restate:
        parser.error("--time-to-target goes with --restate")
    if args.restate:
        ttt = json.loads(args.time_to_target.read_text()) if args.time_to_target else None
        stored = restate(json.loads(args.restate.with_suffix(".json").read_text()), ttt)
        _write(args.restate, stored, pd.DataFrame(stored["trials"]))
        return
    results = TrialStore(args.project / STORE).load()
    run_info = json.loads((args.project / RUN_INFO).read_text())
    train_rows = fold_train_rows(pd.read_parquet(args.project / FOLDS))
    summary = {"machine": machine(), **summarise(results, run_info, train_rows)}
    trials = results.assign(core_s=core_seconds(results, int(run_info.get("task_cpus", 1))))[
        ["status", *TRIAL_COLUMNS]
    ].sort_values(["fold_id", "combo_id"])
    stored = {"summary": summary, "trials": trials.to_dict("records")}
    if args.out:
        _write(args.out, stored, trials)
    print(markdown(summary, trials))  # noqa: T201 - a command-line tool's output


def _write(out: Path, stored: dict[str, Any], trials: pd.DataFrame) -> None:
    out.with_suffix(".json").write_text(json.dumps(stored, indent=2, default=str))
    out.with_suffix(".md").write_text(markdown(stored["summary"], trials))


if __name__ == "__main__":
    main()
