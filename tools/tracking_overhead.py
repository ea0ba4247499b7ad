"""What MLflow tracking costs a search: tracked and untracked `kedro run`s side by side.

    python -m tools.tracking_overhead                  # medium data (100k x 100), 3 pairs
    python -m tools.tracking_overhead --size small --pairs 1

A scratch copy of the project (its conf/, conf/base's search: 8 combinations x 4 folds, early
stopping) generates the size's data once, then runs `kedro run --pipelines tuning,reporting`
with every trial rerun (`tuning.resume=false`), tracking on and off interleaved (on, off, off,
on, ...), each a fresh process on the embedded SQLite store (created by the tracked data run). Per run: the process wall, the
search's wall (`tuning_run_info.wall_s`) and, tracked, the seconds tracking held the driver
(`tracking_s`: set-up, run start, the final wait for the background thread) and the seconds
its background thread worked alongside the pipeline. The figure of merit is the median
`tracking_s` over the median search wall; the on/off wall difference is reported beside it (on a
shared machine it is mostly noise).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import yaml

from tools.benchmark_report import header_lines, machine
from tools.benchmark_setup import SIZES
from tools.ttt_ours import ENV, ScratchProject

logger = logging.getLogger(__name__)

TRACKING_LINE = re.compile(
    r"MLflow tracking took (?P<driver>[\d.]+) s of this run \(and (?P<background>[\d.]+) s"
)
RUN_INFO = Path("data", "07_model_output", "tuning_run_info.json")
RUN_TIMEOUT_S = 3600


def tracking_seconds(log: str) -> tuple[float, float] | None:
    """(driver s, background s) from a tracked run's log; None when the run was not tracked."""
    found = TRACKING_LINE.search(log)
    return None if found is None else (float(found["driver"]), float(found["background"]))


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of each side and the shares of the search's wall that tracking took."""
    on = [run for run in runs if run["tracking"]]
    off = [run for run in runs if not run["tracking"]]
    search_s = median(run["search_s"] for run in on)
    tracking_s = median(run["tracking_s"] for run in on)
    wall_on, wall_off = median(run["wall_s"] for run in on), median(run["wall_s"] for run in off)
    return {
        "median_search_s_on": search_s,
        "median_search_s_off": median(run["search_s"] for run in off),
        "median_tracking_s": tracking_s,
        "median_tracking_background_s": median(run["tracking_background_s"] for run in on),
        "median_wall_s_on": wall_on,
        "median_wall_s_off": wall_off,
        "tracking_share_of_search": tracking_s / search_s,
        "wall_difference_share_of_search": (wall_on - wall_off) / search_s,
    }


def table_markdown(report: dict[str, Any]) -> str:
    lines = header_lines(f"# Tracking overhead `{report['size']}` ({report['created_at']})", report)
    lines += [
        "| run | tracking | wall s | search s | tracking_s (driver) | background s |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for number, run in enumerate(report["runs"], start=1):
        tracked = run["tracking"]
        lines.append(
            f"| {number} | {'on' if tracked else 'off'} | {run['wall_s']:.1f} | "
            f"{run['search_s']:.1f} | {run['tracking_s']:.2f} | "
            f"{run['tracking_background_s']:.2f} |"
            if tracked
            else f"| {number} | off | {run['wall_s']:.1f} | {run['search_s']:.1f} | | |"
        )
    summary = report["summary"]
    lines += [
        "",
        f"Median `tracking_s` {summary['median_tracking_s']:.2f} s over the median search wall "
        f"{summary['median_search_s_on']:.1f} s: **{summary['tracking_share_of_search']:.2%}** "
        f"of the search (the background thread worked "
        f"{summary['median_tracking_background_s']:.2f} s alongside the pipeline).",
        "",
        f"Median process wall on {summary['median_wall_s_on']:.1f} s, off "
        f"{summary['median_wall_s_off']:.1f} s: a difference of "
        f"{summary['wall_difference_share_of_search']:+.2%} of the search's wall (noise included).",
    ]
    return "\n".join(lines) + "\n"


class OverheadProject(ScratchProject):
    """The scratch copy: the size's data generated once, then tuning + reporting per run."""

    def __init__(self, project: Path, directory: Path, rows: int, features: int) -> None:
        super().__init__(project, directory, master="")
        params = {"data_generation": {"n_samples": rows, "n_features": features}}
        (self.path / "conf" / ENV / "parameters_data_generation.yml").write_text(
            yaml.safe_dump(params)
        )

    def kedro_run(self, pipelines: str, params: str, log: Path, *extra: str) -> float:
        """One `kedro run` in the copy; its wall seconds (raises if it fails)."""
        arguments = ["run", "--pipelines", pipelines, "--env", ENV, "--params", params, *extra]
        return self.kedro(arguments, log=log, timeout_s=RUN_TIMEOUT_S)

    def measured_run(self, tracking: bool, log: Path) -> dict[str, Any]:
        params = f"tuning.resume=false,tracking.enabled={str(tracking).lower()}"
        wall_s = self.kedro_run("tuning,reporting", params, log)
        run_info = json.loads((self.path / RUN_INFO).read_text())
        seconds = tracking_seconds(log.read_text())
        if tracking and seconds is None:
            raise RuntimeError(f"a tracked run logged no tracking time: see {log}")
        run = {"tracking": tracking, "wall_s": wall_s, "search_s": run_info["wall_s"]}
        if seconds is not None:
            run["tracking_s"], run["tracking_background_s"] = seconds
        logger.info("tracking %s: %s", "on" if tracking else "off", run)
        return run


def write_report(report: dict[str, Any], out_dir: Path) -> str:
    """The report as tracking-overhead-<size>.json and .md in out_dir (created); the table."""
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"tracking-overhead-{report['size']}"
    (out_dir / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    table = table_markdown(report)
    (out_dir / f"{name}.md").write_text(table)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.tracking_overhead")
    parser.add_argument("--size", choices=sorted(SIZES), default="medium")
    parser.add_argument("--pairs", type=int, default=3, help="tracked/untracked pairs")
    parser.add_argument("--project", type=Path, default=Path.cwd(), help="project root")
    parser.add_argument("--out-dir", type=Path, help="default: <project>/docs/benchmarks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    size = SIZES[args.size]
    started, load_before = time.perf_counter(), list(os.getloadavg())
    workdir = Path(tempfile.mkdtemp(prefix="lgbm_tracking_"))
    project = OverheadProject(args.project, workdir / "project", size.rows, size.features)
    # Tracked, so the SQLite store exists before the measured runs: creating its tables is a
    # one-off of the project's first tracked run (seconds), not a cost of each search.
    # The synthetic table, prepared (the default pipeline up to its folds).
    project.kedro_run(
        "__default__", "tracking.enabled=true", workdir / "data.log", "--to-nodes", "make_folds"
    )
    # on, off, off, on, on, off, ...: neither side always runs first.
    order = [(pair % 2 == 0) != second for pair in range(args.pairs) for second in (False, True)]
    runs = [
        project.measured_run(tracked, workdir / f"run-{number}.log")
        for number, tracked in enumerate(order, start=1)
    ]
    report = {
        "command": " ".join(["python -m tools.tracking_overhead", *sys.argv[1:]]),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": args.size,
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": list(os.getloadavg()),
        "wall_s": time.perf_counter() - started,
        "parameters": {"rows": size.rows, "features": size.features, "pairs": args.pairs},
        "runs": runs,
        "summary": summarise(runs),
    }
    table = write_report(report, args.out_dir or args.project / "docs" / "benchmarks")
    sys.stdout.write(table)
    shutil.rmtree(workdir, ignore_errors=True)  # kept, with each run's log, when a run fails
    return 0


if __name__ == "__main__":
    sys.exit(main())
