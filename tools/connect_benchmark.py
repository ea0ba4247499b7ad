"""The search on a Spark Connect session against the classic session, side by side.

    python -m tools.connect_benchmark --size medium --repeats 2

On one generated dataset and one grid (tools/benchmark's sizes, fixed rounds), it runs the tuning
node's work (`run_ours`: expand, ship, run, store) on a classic `local[N]` session and on a
`remote("local[N]")` Spark Connect session (a local Connect server: the same JVM kind, the
DataFrame path of pipelines/tuning/connect_jobs.py), alternating, each session built as
SparkHooks builds it (`start_session`) and warmed up by one untimed search first. It reports
each wall, the median ratio Connect / classic and whether both found the same results.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from spark_lgbm_tuning.spark.remote import REMOTE_KEY
from spark_lgbm_tuning.spark.session import build_spark_conf, start_session
from spark_lgbm_tuning.vocabulary.lightgbm_params import METRICS
from tools.benchmark_methods import run_ours
from tools.benchmark_report import machine
from tools.benchmark_setup import SIZES, make_inputs, tuning_params
from tools.benchmark_setup import Settings as BenchmarkSettings

logger = logging.getLogger(__name__)

SESSIONS = ("classic", "connect")


def session_conf(project: Path, kind: str, cores: int) -> dict[str, Any]:
    """conf/base/spark.yml with a local[cores] master, or (connect) conf/connect's remote."""
    settings = yaml.safe_load((project / "conf" / "base" / "spark.yml").read_text())
    settings["spark.app.name"] = f"spark-lgbm-tuning-{kind}-benchmark"
    settings["spark.ui.enabled"] = False
    if kind == "classic":
        return {**settings, "spark.master": f"local[{cores}]"}
    return {
        **settings,
        "spark.master": None,
        REMOTE_KEY: f"local[{cores}]",
        "spark.default.parallelism": cores,
    }


def run_once(kind: str, settings: BenchmarkSettings, inputs: tuple, cores: int) -> dict[str, Any]:
    """One session of `kind`: an untimed warm-up search, then the timed one."""
    data, folds, _ = inputs
    params = tuning_params(settings.size, "fixed", settings.conf)
    conf = build_spark_conf(session_conf(settings.project, kind, cores))
    started = time.perf_counter()
    spark = start_session(conf, executor_start_timeout_s=120)
    start_s = time.perf_counter() - started
    try:
        warm = params.model_copy(update={"num_boost_round": 5})
        run_ours(spark, data, folds, warm, columns=settings.columns)
        wall_s, results, _ = run_ours(spark, data, folds, params, columns=settings.columns)
    finally:
        spark.stop()
    return {"session": kind, "start_s": start_s, "wall_s": wall_s, "results": results}


def same_results(classic, connect) -> dict[str, Any]:
    """Whether both sessions scored every trial alike (largest metric difference)."""
    merged = classic.merge(connect, on="trial_id", suffixes=("_classic", "_connect"))
    metrics = [name for name in METRICS if f"{name}_classic" in merged]
    diffs = {
        name: float((merged[f"{name}_classic"] - merged[f"{name}_connect"]).abs().max())
        for name in metrics
    }
    return {
        "trials": len(merged),
        "same_trial_ids": len(merged) == len(classic) == len(connect),
        "max_abs_metric_diff": max(diffs.values(), default=0.0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="medium")
    parser.add_argument("--repeats", type=int, default=2, help="pairs of sessions")
    parser.add_argument("--rows", type=int, help="override the size's rows")
    parser.add_argument("--cores", type=int, default=2, help="local[N] of both sessions")
    parser.add_argument("--project", type=Path, default=Path.cwd())
    parser.add_argument("--out-dir", type=Path, help="default: <project>/docs/benchmarks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)

    size = SIZES[args.size] if args.rows is None else replace(SIZES[args.size], rows=args.rows)
    settings = BenchmarkSettings(size_name=args.size, size=size, project=args.project)
    load_before = list(os.getloadavg())
    inputs = make_inputs(size, settings.seed, settings.conf, settings.columns)
    runs = [
        run_once(kind, settings, inputs, args.cores)
        for _ in range(args.repeats)
        for kind in SESSIONS
    ]
    walls = {kind: [run["wall_s"] for run in runs if run["session"] == kind] for kind in SESSIONS}
    ratio = statistics.median(walls["connect"]) / statistics.median(walls["classic"])
    by_kind = {run["session"]: run["results"] for run in runs}
    report = {
        "command": " ".join(["python -m tools.connect_benchmark", *sys.argv[1:]]),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": list(os.getloadavg()),
        "size": {"name": args.size, **vars(size)},
        "cores": args.cores,
        "walls_s": walls,
        "session_start_s": {
            kind: [round(run["start_s"], 2) for run in runs if run["session"] == kind]
            for kind in SESSIONS
        },
        "connect_over_classic": round(ratio, 3),
        "results": same_results(by_kind["classic"], by_kind["connect"]),
    }
    out_dir = args.out_dir or args.project / "docs" / "benchmarks"
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"connect-{args.size}"
    (out_dir / f"{name}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    lines = [
        f"# Spark Connect vs classic session, `{args.size}` ({report['created_at']})",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Load average before {load_before}, after {report['load_average_after']}.",
        "",
        "| session | walls s (alternating) | median s |",
        "|---|---|---:|",
        *(
            f"| {kind} | {', '.join(f'{wall:.1f}' for wall in walls[kind])} | "
            f"{statistics.median(walls[kind]):.1f} |"
            for kind in SESSIONS
        ),
        "",
        f"Connect / classic: **{ratio:.3f}** (goal <= 1.15). Results: {report['results']}.",
        "",
    ]
    (out_dir / f"{name}.md").write_text("\n".join(lines))
    sys.stdout.write("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
