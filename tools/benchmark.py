"""Benchmark: the `tuning` node against the reference method, GridSearchCV and the hardware limit.

    python -m tools.benchmark                      # small size, medians of 3
    python -m tools.benchmark --size medium        # writes docs/benchmarks/latest.json
    python -m tools.benchmark --size medium --lever validation_scores --methods ours
    python -m tools.benchmark --project /path/to/project   # conf/ and docs/ of another checkout

Run from the project's root (or pass --project): it reads conf/base/ there and writes the report
to docs/benchmarks/ there. It is a developer tool, not part of the installed package.

On one generated dataset, one set of folds and one grid, on one Spark master, it times:
- `ours`: the tuning pipeline's node functions (expand_search_space, run_trials) with the same
  TuningParams model, on a SparkSession built from conf/base/spark.yml as the hook builds it;
- `reference`: the reference notebook's method, `sc.parallelize(param_dicts, n).map(train)`, each
  task reading its fold's train/test parquet with pandas, fitting LGBMClassifier (threads =
  spark.task.cpus), scoring the five metrics and writing one parquet per trial;
- `gridsearch`: scikit-learn GridSearchCV over the same folds, n_jobs = cores (fixed rounds only:
  it cannot early-stop on each fold's test part);
- `limit`: the sum over trials of the pure boosting seconds (lgb.train on a constructed Dataset,
  same params and threads, one trial at a time) divided by the cores.
Methods are interleaved and repeated; the table and the JSON give medians and ratios of one run.
`--lever NAME` also times `ours` with one optimisation switched off (trial_spec.LEVERS, passed to
the search in each TrialSpec; or `worker_reuse`, a Spark setting that needs a session of its
own), and `--rounds-grid 100,200,400` adds a num_boost_round grid axis, timed with and without
the shared boosting runs. Modules: benchmark_setup (sizes, inputs, session), benchmark_methods
(the four methods), benchmark_report (figures and files). The time-to-target comparison of
search methods (our grid and adaptive strategies against hyperopt, FLAML and Optuna) is the
sibling `python -m tools.time_to_target`, on the same inputs and session code.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import SparkSession

from spark_lgbm_tuning.executor import trial_spec
from spark_lgbm_tuning.pipelines.tuning.nodes import expand_search_space
from tools.benchmark_methods import (
    measure_limit,
    run_gridsearch,
    run_ours,
    run_reference,
    write_fold_parquet,
)
from tools.benchmark_report import (
    machine,
    mode_entry,
    write_report,
)
from tools.benchmark_setup import (
    FIVE_METRICS,
    METHODS,
    MODES,
    SIZES,
    SPARK_LEVERS,
    Settings,
    grid_for,
    make_inputs,
    slots,
    spark_session,
    trial_list,
    tuning_params,
    warm_up,
)

logger = logging.getLogger(__name__)


def run_mode(
    spark: SparkSession,
    settings: Settings,
    mode: str,
    *,
    data: pd.DataFrame,
    folds: pd.DataFrame,
    workdir: Path,
    paths: dict[int, tuple[str, str]],
) -> dict[str, Any]:
    """Every method of one mode, interleaved and repeated; medians, ratios and the checks."""
    params = tuning_params(settings.size, mode, settings.conf)
    columns = settings.columns
    n_slots, task_cpus = slots(spark)
    trials = trial_list(expand_search_space(data, folds, params, columns), params, task_cpus)
    methods = [
        method for method in settings.methods if not (method == "gridsearch" and mode != "fixed")
    ]
    times: dict[str, list[float]] = {method: [] for method in methods}
    extra: dict[str, Any] = {}
    for repeat in range(settings.size.repeats):
        for method in methods:
            logger.info("%s, %s, repeat %d/%d", mode, method, repeat + 1, settings.size.repeats)
            if method == "ours":
                wall_s, results, run_info = run_ours(spark, data, folds, params, columns=columns)
                extra["ours_results"], extra["run_info"] = results, run_info
            elif method == "reference":
                wall_s, extra["reference_results"] = run_reference(
                    spark, trials, paths, params.early_stopping_rounds, workdir / "reference_out"
                )
            elif method == "gridsearch":
                wall_s, _ = run_gridsearch(data, folds, params, n_slots * task_cpus, columns)
            else:
                limit = measure_limit(
                    data, folds, trials, params.early_stopping_rounds, workdir, columns=columns
                )
                wall_s = sum(limit["boosting_s"].values()) / n_slots
                extra["limit"] = limit
                if task_cpus > 1:
                    # The same work in single-thread core-seconds over every core: what one
                    # thread per trial could reach, to compare layouts (threads x slots).
                    single = [(tid, fid, {**p, "num_threads": 1}, r) for tid, fid, p, r in trials]
                    single_limit = measure_limit(
                        data, folds, single, params.early_stopping_rounds, workdir, columns=columns
                    )
                    extra["single_thread_limit_s"] = sum(single_limit["boosting_s"].values()) / (
                        n_slots * task_cpus
                    )
            times[method].append(wall_s)
            logger.info("%s, %s: %.2f s", mode, method, wall_s)
    return mode_entry(times, extra, params=params, n_trials=len(trials), n_slots=n_slots)


def run_levers(
    settings: Settings, data: pd.DataFrame, folds: pd.DataFrame, baseline: dict[str, Any]
) -> dict[str, Any]:
    """`ours` with each lever off, against `ours` with all on (a Spark lever gets a session of
    its own; a trial lever is passed to the search)."""
    result = {}
    columns = settings.columns
    for lever in settings.levers:
        off_in_trials = frozenset({lever}) & frozenset(trial_spec.LEVERS)
        for mode in settings.modes:
            params = tuning_params(settings.size, mode, settings.conf)
            walls = []
            with spark_session(settings, disabled=(lever,)) as spark:
                for _ in range(settings.size.repeats):
                    run = run_ours(
                        spark, data, folds, params, columns=columns, disabled_levers=off_in_trials
                    )
                    walls.append(run[0])
            on = baseline.get(mode, {}).get("methods", {}).get("ours", {}).get("median_s")
            off = statistics.median(walls)
            result[f"{lever}:{mode}"] = {
                "lever": lever,
                "mode": mode,
                "off_runs_s": walls,
                "off_median_s": off,
                "on_median_s": on,
                "seconds_saved": off - on if on else None,
            }
            logger.info("lever %s (%s): off %.2f s, on %s s", lever, mode, off, on)
    return result


def run_shared_rounds(
    settings: Settings, data: pd.DataFrame, folds: pd.DataFrame
) -> dict[str, Any]:
    """A num_boost_round grid axis, with shared boosting runs and with one run per trial."""
    params = tuning_params(settings.size, "fixed", settings.conf, settings.rounds_grid)
    columns = settings.columns
    with spark_session(settings) as spark:
        shared_s, shared, _ = run_ours(spark, data, folds, params, columns=columns)
        separate_s, separate, _ = run_ours(
            spark,
            data,
            folds,
            params,
            columns=columns,
            disabled_levers=frozenset({"shared_rounds"}),
        )
    merged = shared.merge(separate, on="trial_id", suffixes=("_shared", "_separate"))
    diffs = {
        name: float((merged[f"{name}_shared"] - merged[f"{name}_separate"]).abs().max())
        for name in FIVE_METRICS
    }
    return {
        "rounds_grid": list(settings.rounds_grid),
        "n_trials": len(shared),
        "shared_s": shared_s,
        "separate_s": separate_s,
        "seconds_saved": separate_s - shared_s,
        "max_abs_metric_diff": diffs,
    }


def run_benchmark(settings: Settings, spark: SparkSession | None = None) -> dict[str, Any]:
    """Run the benchmark; with `spark` given (a test's session) it is used and not stopped."""
    started = time.perf_counter()
    load_before = list(os.getloadavg())
    data, folds, data_params = make_inputs(
        settings.size, settings.seed, settings.conf, settings.columns
    )
    report: dict[str, Any] = {
        "benchmark": "python -m tools.benchmark",
        "command": " ".join(["python -m tools.benchmark", *sys.argv[1:]])
        if spark is None
        else "run_benchmark (test)",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_before": load_before,
        "parameters": {
            "size": settings.size_name,
            **asdict(settings.size),
            "master": settings.master if spark is None else spark.sparkContext.master,
            "grid": grid_for(settings.size.combos),
            "data_generation": data_params,
        },
        "modes": {},
    }
    workdir = Path(tempfile.mkdtemp(prefix="lgbm_benchmark_"))
    try:
        paths = write_fold_parquet(data, folds, workdir / "folds", settings.columns)
        with spark_session(settings, existing=spark) as session:
            report["warm_up_s"] = warm_up(session)
            report["parameters"]["slots_and_task_cpus"] = slots(session)
            report["parameters"]["spark"] = {
                key: value
                for key, value in session.sparkContext.getConf().getAll()
                if key.startswith("spark.")
                and key.split(".")[1] in {"master", "task", "python", "executor", "driver"}
                and not any(part in key for part in ("host", "port", "JavaOptions"))
            }
            for mode in settings.modes:
                report["modes"][mode] = run_mode(
                    session, settings, mode, data=data, folds=folds, workdir=workdir, paths=paths
                )
        if settings.rounds_grid and spark is None:
            report["shared_rounds"] = run_shared_rounds(settings, data, folds)
        if settings.levers:
            report["levers"] = run_levers(settings, data, folds, report["modes"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    headline = report["modes"].get("fixed") or next(iter(report["modes"].values()), {})
    for key in ("ratio_to_limit", "speedup_vs_reference", "speedup_vs_gridsearch"):
        report[key] = headline.get(key)
    report["load_average_after"] = list(os.getloadavg())
    report["wall_s"] = time.perf_counter() - started
    report["table"] = write_report(report, settings)
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.benchmark", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--master", default="local[2]", help="local[N] or spark://host:port")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"subset of {METHODS}")
    parser.add_argument("--modes", default=",".join(MODES), help=f"subset of {MODES}")
    parser.add_argument(
        "--lever",
        action="append",
        default=[],
        choices=[*trial_spec.LEVERS, *SPARK_LEVERS],
        help="also time ours with this optimisation off (repeatable)",
    )
    parser.add_argument("--rounds-grid", default="", help="e.g. 100,200,400: shared-rounds run")
    parser.add_argument(
        "--task-cpus",
        type=int,
        help="spark.task.cpus: LightGBM threads per trial (default: conf/base/spark.yml's)",
    )
    parser.add_argument("--rows", type=int, help="override the size's rows")
    parser.add_argument("--combos", type=int, choices=(2, 4, 8), help="override the combinations")
    parser.add_argument("--fixed-rounds", type=int, help="override the fixed rounds")
    parser.add_argument("--repeats", type=int, help="override the repeats")
    parser.add_argument("--tag", help="output name (default: the size)")
    parser.add_argument(
        "--out-dir", type=Path, help="report folder (default: <project>/docs/benchmarks)"
    )
    parser.add_argument(
        "--project",
        type=Path,
        default=Path.cwd(),
        help="the project root whose conf/base/ is read (default: the current directory)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    overrides = {
        "rows": args.rows,
        "combos": args.combos,
        "fixed_rounds": args.fixed_rounds,
        "repeats": args.repeats,
    }
    size = replace(SIZES[args.size], **{k: v for k, v in overrides.items() if v is not None})
    changed = any(value is not None for key, value in overrides.items() if key != "repeats")
    settings = Settings(
        size_name=args.size,
        size=size,
        master=args.master,
        methods=tuple(name for name in args.methods.split(",") if name),
        modes=tuple(name for name in args.modes.split(",") if name),
        levers=tuple(args.lever),
        rounds_grid=tuple(int(value) for value in args.rounds_grid.split(",") if value),
        task_cpus=args.task_cpus,
        project=args.project,
        out_dir=args.out_dir or args.project / "docs" / "benchmarks",
        tag=args.tag or (f"{args.size}-custom" if changed else None),
    )
    unknown = sorted(set(settings.methods) - set(METHODS)) + sorted(
        set(settings.modes) - set(MODES)
    )
    if unknown:
        raise SystemExit(f"Unknown methods/modes {unknown}; methods: {METHODS}, modes: {MODES}")
    report = run_benchmark(settings)
    sys.stdout.write(report["table"] + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
