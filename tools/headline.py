"""The seed's headline, measured on our code: a sample of the reference grid, extrapolated.

The seed reported 216 classification trials (54 combinations x 4 folds) in 17 minutes on four
one-core workers. Run a documented sample of that grid at full scale first, e.g.

    kedro run --env reference --pipelines data_generation
    kedro run --env reference --pipelines tuning \
        --params "tuning.grid.lambda_l1=[12],tuning.grid.lambda_l2=[0.1],tuning.resume=false"

then summarise it (from the project root, or name it with --project):

    python tools/headline.py --out docs/benchmarks/headline

Extrapolation, in core-seconds so that machines with other core counts compare: the sample's
mean boosting seconds per trial (one thread each: spark.task.cpus = 1) x 216 trials is the grid's
boosting work; divided by 4 cores and by the run's measured efficiency (sum of fit seconds over
wall x cores) it gives the wall the full grid would take on four cores.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

SEED_TRIALS = 216
SEED_CORES = 4
SEED_WALL_S = 17 * 60
RESULTS = "data/07_model_output/tuning_results.parquet"
RUN_INFO = "data/07_model_output/tuning_run_info.json"
TRIAL_COLUMNS = ["combo_id", "fold_id", "n_train", "best_iteration", "fit_s", "peak_rss_mb"]


def summarise(results: pd.DataFrame, run_info: dict[str, Any]) -> dict[str, Any]:
    """The sample's figures and the extrapolation to the seed's 216 trials on 4 cores."""
    ok = results[results["status"] == "ok"]
    if ok.empty:
        raise SystemExit("No ok trials in the results: nothing to extrapolate from")
    task_cpus = int(run_info.get("task_cpus", 1))
    core_s_per_trial = float(ok["fit_s"].mean()) * task_cpus
    efficiency = float(run_info["efficiency"])
    grid_core_s = core_s_per_trial * SEED_TRIALS
    return {
        "sample_trials": len(results),
        "sample_ok": len(ok),
        "sample_wall_s": float(run_info["wall_s"]),
        "sample_total_cores": int(run_info["total_cores"]),
        "sample_efficiency": efficiency,
        "mean_fit_s": float(ok["fit_s"].mean()),
        "median_fit_s": float(ok["fit_s"].median()),
        "mean_rounds": float(ok["best_iteration"].mean()),
        "max_peak_rss_mb": float(ok["peak_rss_mb"].max()),
        "core_s_per_trial": core_s_per_trial,
        "grid_core_s": grid_core_s,
        "grid_wall_s_on_4_cores": grid_core_s / SEED_CORES / efficiency,
        "seed_wall_s_on_4_cores": SEED_WALL_S,
        "seed_core_s_per_trial": SEED_WALL_S * SEED_CORES / SEED_TRIALS,
    }


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
    args = parser.parse_args(argv)
    results = pd.read_parquet(args.project / RESULTS)
    run_info = json.loads((args.project / RUN_INFO).read_text())
    summary = {"machine": machine(), **summarise(results, run_info)}
    trials = results[["status", *TRIAL_COLUMNS]].sort_values(["fold_id", "combo_id"])
    text = markdown(summary, trials)
    if args.out:
        args.out.with_suffix(".json").write_text(
            json.dumps(
                {"summary": summary, "trials": trials.to_dict("records")}, indent=2, default=str
            )
        )
        args.out.with_suffix(".md").write_text(text)
    print(text)  # noqa: T201 - a command-line tool's output


if __name__ == "__main__":
    main()
