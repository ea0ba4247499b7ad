"""Time-to-target benchmark: how soon each method reaches our full grid's best mean AUC.

    python -m tools.time_to_target --size tiny          # smoke run, < 3 min on 2 cores
    python -m tools.time_to_target --size seed --methods grid,grid_asha,random_asha,tpe_asha,\
        tpe_few_asha,tpe_cheap_asha,hyperopt,flaml,optuna_hyperband   # of record, ~75 min
    python -m tools.time_to_target --size hour          # 6 methods x 5 seeds, ~1 h on 2 cores
    python -m tools.time_to_target --size large --seeds 1   # the larger single-seed check
    PYTHONPATH=/work/wt-adaptive/src python -m tools.time_to_target --project /work/wt-adaptive

Same data (data_generation's nodes), same 4 expanding folds, same objective (tuning's LightGBM
parameters, round cap, early stopping on each fold's test part, mean AUC over folds), same
cores, methods interleaved seed by seed:
- `grid`: ours, `strategy: grid` (a real `kedro run --pipelines tuning` of a scratch copy of the
  project); its best mean AUC minus `--slack` (0.0005) is the target (the no-slack figures are
  reported too), and its wall sets the others' budget;
- `grid_asha`: the same grid with round-wise pruning (`tuning.search.round_pruning` asha, the
  size's settings): the pruned grid, whose best is checked against the grid's winner;
- `random`, `tpe`: ours with `tuning.search` (`--pruning`, wilcoxon by default), over ranges
  that enclose the grid; `random_asha`, `tpe_asha`: the same plus round-wise pruning;
- `hyperopt` (TPE, SparkTrials on the same master), `flaml` (tune.run, use_spark; `flaml_seeded`: its searcher
  seeded with the run's seed, see ttt_peers.run_flaml), `optuna`
  (TPE + WilcoxonPruner in one process, n_jobs = cores, folds from local parquet),
  `optuna_hyperband` (the same with HyperbandPruner fed each boosting round's AUC by
  optuna-integration's LightGBMPruningCallback: Optuna's own multi-fidelity).
Modules: ttt_space (sizes, spaces), ttt_ours, ttt_peers, ttt_figures (the pure figures),
ttt_report (files and plots); data, folds and the Spark session come from benchmark_setup.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import SparkSession

from tools import ttt_peers
from tools.benchmark_methods import write_fold_parquet
from tools.benchmark_report import machine
from tools.benchmark_setup import Settings, Size, make_inputs, slots, spark_session
from tools.ttt_figures import (
    GRID,
    GRID_ASHA,
    OURS_ADAPTIVE,
    PEERS,
    SLACK,
    best_curve,
    seed_figures,
)
from tools.ttt_ours import (
    RUN_TIMEOUT_OVERHEAD_S,
    ScratchProject,
    search_settings,
    tuning_overrides,
    tuning_params,
)
from tools.ttt_report import summarise, write_report
from tools.ttt_space import TTT_SIZES, TttSize, check_encloses

logger = logging.getLogger(__name__)

METHODS = (GRID, GRID_ASHA, *OURS_ADAPTIVE, *PEERS)
# The benchmark of record (issue 23: the seed's kind of space) writes time-to-target.{md,json}.
RECORD_SIZE, RECORD_TAG = "seed", "time-to-target"
OURS = (GRID, GRID_ASHA, *OURS_ADAPTIVE)


class Comparison:
    """One comparison: inputs made once, then each method per seed, results kept in order."""

    def __init__(
        self,
        size: TttSize,
        settings: Settings,
        workdir: Path,
        pruning: str = "wilcoxon",
        slack: float = SLACK,
    ) -> None:
        self.size, self.settings, self.workdir, self.pruning = size, settings, workdir, pruning
        self.slack = slack
        data_size = Size(size.rows, size.features, size.folds, 0, 0, size.num_boost_round, 0, 1)
        data, folds, self.data_params = make_inputs(
            data_size, settings.seed, settings.conf, settings.columns
        )
        self.n_folds = int(folds["fold_id"].nunique())
        self.tuning = tuning_params(size, settings.conf)
        self.overrides = tuning_overrides(size, settings.conf)
        self.scratch = ScratchProject(settings.project, workdir / "project", settings.master)
        self.scratch.write_inputs(data, folds)
        self.paths = write_fold_parquet(data, folds, workdir / "folds", settings.columns)
        # The grid's best mean AUC (the no-slack target) and the target: that minus the slack.
        self.grid_best: float | None = None
        self.target: float | None = None
        self.runs: list[dict[str, Any]] = []

    def ours(self, method: str, seed: int, grid_wall_s: float | None) -> pd.DataFrame:
        adaptive = method in OURS_ADAPTIVE
        budget_s = self.size.budget_factor * (grid_wall_s or 0.0) if adaptive else None
        overrides = dict(self.overrides)
        overrides["search"] = search_settings(
            method,
            seed=seed,
            budget_s=budget_s,
            n_combinations=10 * self.tuning.n_combinations,
            pruning=self.pruning,
            round_pruning=self.size.round_pruning,
        )
        space: dict[str, Any] = self.size.ranges if adaptive else self.size.grid
        timeout_s = (budget_s or 3600) * 3 + RUN_TIMEOUT_OVERHEAD_S
        log = self.workdir / f"kedro-{method}-{seed}.log"
        table, info = self.scratch.run(
            space, overrides, n_folds=self.n_folds, timeout_s=timeout_s, log=log
        )
        self.runs[-1]["run_info"] = info
        return table

    def peer(self, method: str, seed: int, grid_wall_s: float, spark: Any) -> pd.DataFrame:
        objective = ttt_peers.Objective(self.tuning, self.paths)
        n_slots, cpus = slots(spark)
        run = ttt_peers.Run(
            target=self.target if self.target is not None else float("inf"),
            budget_s=self.size.budget_factor * grid_wall_s,
            min_s=0.5 * grid_wall_s,
            seed=seed,
            cores=n_slots * cpus,
            started=time.time(),
        )
        ranges = self.size.ranges
        if method == "hyperopt":
            return ttt_peers.run_hyperopt(spark, objective, ranges, run)
        if method in ("flaml", "flaml_seeded"):
            return ttt_peers.run_flaml(objective, ranges, run, seeded=method == "flaml_seeded")
        if method == "optuna_hyperband":
            return ttt_peers.run_optuna_hyperband(objective, ranges, run)
        return ttt_peers.run_optuna(objective, ranges, run)

    def run_one(self, method: str, seed: int, spark: Any) -> None:
        """One method, one seed; a failure is recorded (with its traceback) and the run goes on."""
        grid_wall_s = self.grid_wall_s(seed)
        entry: dict[str, Any] = {"method": method, "seed": seed}
        self.runs.append(entry)
        logger.info("time-to-target: %s, seed %d", method, seed)
        started = time.perf_counter()
        try:
            if method in OURS:
                table = self.ours(method, seed, grid_wall_s)
            else:
                table = self.peer(method, seed, grid_wall_s or 0.0, spark)
        except Exception as error:
            if method == GRID and self.target is None:
                raise  # no target, nothing to compare against
            # One method failing must not end an hour-long comparison: recorded, reported.
            entry["error"] = "".join(traceback.format_exception_only(error)).strip()
            logger.error("%s, seed %d failed: %s", method, seed, traceback.format_exc())
            return
        entry["method_wall_s"] = time.perf_counter() - started
        if method == GRID:
            best = float(table.loc[table["complete"], "score"].max())
            if self.grid_best is None:
                self.grid_best, self.target = best, best - self.slack
            entry["grid_best"] = best
            grid_wall_s = entry["run_info"]["wall_s"]
        entry["figures"] = seed_figures(
            table, target=self.target, grid_wall_s=grid_wall_s, exact=self.grid_best
        )
        entry["curve"] = best_curve(table).to_dict("list")
        figures = entry["figures"]
        logger.info(
            "%s, seed %d: target %.5f %s; best %.5f; %d trials (%d pruned), boosting %.1f s",
            method,
            seed,
            self.target,
            "not reached"
            if figures["time_to_target_s"] is None
            else f"at {figures['time_to_target_s']:.1f} s",
            figures["best_score"] or float("nan"),
            figures["n_trials"],
            figures["n_pruned"],
            figures["boosting_s"],
        )

    def grid_wall_s(self, seed: int) -> float | None:
        """This seed's grid wall (the grid runs first in each seed's round), else the first's."""
        walls = {
            run["seed"]: run["run_info"]["wall_s"]
            for run in self.runs
            if run["method"] == GRID and "run_info" in run and "error" not in run
        }
        return walls.get(seed, next(iter(walls.values()), None))

    def objective_check(self) -> dict[str, Any]:
        """The peers' objective on the grid's best combination against our grid's mean AUC."""
        grid_runs = [run for run in self.runs if run["method"] == GRID and "figures" in run]
        if not grid_runs or not grid_runs[0]["run_info"]["best_combination"]:
            return {}
        combination = grid_runs[0]["run_info"]["best_combination"]
        score = ttt_peers.Objective(self.tuning, self.paths).all_folds(combination)["score"]
        return {
            "combination": combination,
            "peers_objective": score,
            "ours_grid": grid_runs[0]["grid_best"],
            "abs_diff": abs(score - grid_runs[0]["grid_best"]),
        }


def run_comparison(
    size_name: str,
    size: TttSize,
    settings: Settings,
    methods: list[str],
    *,
    spark: SparkSession | None = None,
    pruning: str = "wilcoxon",
    slack: float = SLACK,
) -> dict[str, Any]:
    """Every method for every seed, interleaved; returns the report (also written to files).
    With `spark` given (a test's session) the peers use it and it is not stopped."""
    check_encloses(size.grid, size.ranges)
    started = time.perf_counter()
    load_before = list(os.getloadavg())
    workdir = Path(tempfile.mkdtemp(prefix="lgbm_ttt_"))
    try:
        comparison = Comparison(size, settings, workdir, pruning, slack)
        with spark_session(settings, existing=spark) as session:
            cores = slots(session)
            for seed in size.seeds:
                for method in methods:
                    comparison.run_one(method, seed, session)
        check = comparison.objective_check()
        logs = {path.name: path.read_text()[-4000:] for path in workdir.glob("kedro-*.log")}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report = {
        "benchmark": "python -m tools.time_to_target",
        "command": " ".join(["python -m tools.time_to_target", *sys.argv[1:]])
        if spark is None
        else "run_comparison (test)",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": size_name,
        "notes": size.notes,
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": list(os.getloadavg()),
        "wall_s": time.perf_counter() - started,
        "parameters": {
            "rows": size.rows,
            "features": size.features,
            "folds": size.folds,
            "grid": size.grid,
            "ranges": size.ranges,
            "num_boost_round": size.num_boost_round,
            "early_stopping_rounds": size.early_stopping_rounds,
            "seeds": list(size.seeds),
            "budget_factor": size.budget_factor,
            "methods": methods,
            "ours_pruning": pruning,
            "round_pruning": size.round_pruning,
            "slack": slack,
            "master": settings.master,
            "slots_and_task_cpus": cores,
            "data_generation": comparison.data_params,
        },
        "grid_best": comparison.grid_best,
        "slack": slack,
        "target": comparison.target,
        "objective_check": check,
        "runs": comparison.runs,
        "kedro_log_tails": logs,
    }
    report.update(summarise(comparison.runs, methods, slack))
    report["table"] = write_report(report, settings.out_dir, settings.name)
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.time_to_target", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--size", choices=sorted(TTT_SIZES), default="tiny")
    parser.add_argument("--master", default="local[2]", help="local[N] or spark://host:port")
    parser.add_argument("--methods", help=f"subset of {METHODS} (default: all the project has)")
    parser.add_argument("--seeds", help="comma-separated seeds (default: the size's)")
    parser.add_argument("--rows", type=int, help="override the size's rows")
    parser.add_argument("--budget-factor", type=float, help="budget = factor x the grid's wall")
    parser.add_argument(
        "--pruning", default="wilcoxon", help="tuning.search.pruning of ours' random and tpe"
    )
    parser.add_argument(
        "--slack",
        type=float,
        default=SLACK,
        help="target = the grid's best mean AUC minus this (the exact figure is reported too)",
    )
    parser.add_argument("--tag", help="output name (default: time-to-target[-<size>])")
    parser.add_argument("--out-dir", type=Path, help="default: <project>/docs/benchmarks")
    parser.add_argument("--project", type=Path, default=Path.cwd(), help="project root")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("py4j", "hyperopt", "flaml", "optuna"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    size = TTT_SIZES[args.size]
    overrides = {
        "seeds": tuple(int(seed) for seed in args.seeds.split(",")) if args.seeds else None,
        "rows": args.rows,
        "budget_factor": args.budget_factor,
    }
    size = replace(size, **{key: value for key, value in overrides.items() if value is not None})
    methods = args.methods.split(",") if args.methods else list(METHODS)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or GRID not in methods or methods[0] != GRID:
        raise SystemExit(f"--methods: start with {GRID!r}, then any of {METHODS}; got {methods}")
    custom = args.rows is not None
    tag = args.tag or (
        RECORD_TAG if args.size == RECORD_SIZE and not custom else f"{RECORD_TAG}-{args.size}"
    )
    settings = Settings(
        size_name=args.size,
        master=args.master,
        project=args.project,
        out_dir=args.out_dir or args.project / "docs" / "benchmarks",
        tag=tag + ("-custom" if custom and not args.tag else ""),
    )
    report = run_comparison(
        args.size, size, settings, methods, pruning=args.pruning, slack=args.slack
    )
    sys.stdout.write(report["table"] + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
