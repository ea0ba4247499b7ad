"""The time-to-target report: medians per method, speed-ups, the issue's targets, markdown, JSON
and one best-score-vs-time plot per method."""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend

from tools.benchmark_report import header_lines  # noqa: E402
from tools.ttt_figures import GRID, PEERS, method_medians, speedups  # noqa: E402

logger = logging.getLogger(__name__)

# The targets for `tpe` + pruning (medians over seeds).
TARGET_VS_GRID = 5.0
TARGET_VS_BEST_PEER = 1.5


def summarise(runs: list[dict[str, Any]], methods: list[str]) -> dict[str, Any]:
    """Medians per method, the two headline speed-ups and the targets' verdicts."""
    per_method = {
        method: [run["figures"] for run in runs if run["method"] == method and "figures" in run]
        for method in methods
    }
    medians = {method: method_medians(figures) for method, figures in per_method.items()}
    summary: dict[str, Any] = {"methods": medians, **speedups(medians)}
    summary["targets"] = _targets(medians)
    summary["errors"] = [
        {"method": run["method"], "seed": run["seed"], "error": run["error"]}
        for run in runs
        if "error" in run
    ]
    return summary


def _targets(medians: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """tpe's ratios against the grid and the fastest peer, and its best score at 25 %."""
    tpe = medians.get("tpe", {})
    tpe_s = tpe.get("time_to_target_s")
    grid_s = medians.get(GRID, {}).get("time_to_target_s")
    peer_s = [medians[name]["time_to_target_s"] for name in PEERS if name in medians]
    reached_peers = [seconds for seconds in peer_s if seconds is not None]
    vs_grid = grid_s / tpe_s if grid_s and tpe_s else None
    vs_peer = min(reached_peers) / tpe_s if reached_peers and tpe_s else None
    at_25 = tpe.get("best_at", {}).get("25%")
    peers_25 = {
        name: medians[name]["best_at"].get("25%")
        for name in PEERS
        if name in medians and medians[name]["best_at"]
    }
    return {
        "tpe_vs_grid": vs_grid,
        "tpe_vs_grid_met": None if vs_grid is None else vs_grid >= TARGET_VS_GRID,
        "tpe_vs_best_peer": vs_peer,
        "tpe_vs_best_peer_met": None if vs_peer is None else vs_peer >= TARGET_VS_BEST_PEER,
        "tpe_best_at_25": at_25,
        "peers_best_at_25": peers_25,
        "tpe_best_at_25_met": None
        if at_25 is None
        else all(score is None or at_25 >= score for score in peers_25.values()),
    }


def _number(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _seed_cell(figures: dict[str, Any]) -> str:
    seconds = figures["time_to_target_s"]
    if seconds is not None:
        return f"{seconds:.1f}"
    return f"not reached ({_number(figures['best_score'], 4)})"


def table_markdown(report: dict[str, Any]) -> str:
    """The per-method table (medians, per-seed times) and the headline ratios."""
    lines = [
        f"Target: our full grid's best mean AUC **{_number(report['target'], 5)}** (no slack).",
        "",
        "| method | seeds reached | median s to target | per seed s | best at 10 % / 25 % / 50 %"
        " of grid wall | boosting s | trials | pruned |",
        "|---|---:|---:|---|---|---:|---:|---:|",
    ]
    for method, medians in report["methods"].items():
        seeds = [
            _seed_cell(run["figures"])
            for run in report["runs"]
            if run["method"] == method and "figures" in run
        ]
        best_at = " / ".join(_number(value, 4) for value in medians.get("best_at", {}).values())
        lines.append(
            f"| {method} | {medians['seeds_reached']}/{medians['n_seeds']} | "
            + (
                "not reached"
                if medians["time_to_target_s"] is None
                else f"{medians['time_to_target_s']:.1f}"
            )
            + f" | {', '.join(seeds)} | {best_at} | {_number(medians['boosting_s'])} | "
            f"{_number(medians['n_trials'], 0)} | {_number(medians['n_pruned'], 0)} |"
        )
    targets = report["targets"]
    lines += [
        "",
        f"speedup_vs_grid {_number(report['speedup_vs_grid'], 2)} (best adaptive: "
        f"{report['best_adaptive']}); speedup_vs_best_peer "
        f"{_number(report['speedup_vs_best_peer'], 2)} (fastest peer: {report['fastest_peer']}).",
        f"Targets for tpe: vs grid {_number(targets['tpe_vs_grid'], 2)}x (>= {TARGET_VS_GRID}: "
        f"{targets['tpe_vs_grid_met']}); vs fastest peer {_number(targets['tpe_vs_best_peer'], 2)}x"
        f" (>= {TARGET_VS_BEST_PEER}: {targets['tpe_vs_best_peer_met']}); best at 25 % >= every "
        f"peer's: {targets['tpe_best_at_25_met']}.",
    ]
    for error in report["errors"]:
        lines.append(f"- {error['method']}, seed {error['seed']} failed: {error['error']}")
    return "\n".join(lines)


def plot_method(report: dict[str, Any], method: str, path: Path) -> None:
    """Best complete score so far against seconds, one line per seed, with the target."""
    grid_walls = [
        run["run_info"]["wall_s"]
        for run in report["runs"]
        if run["method"] == GRID and "figures" in run
    ]
    figure, axes = plt.subplots(figsize=(6, 4))
    for run in report["runs"]:
        if run["method"] != method or "curve" not in run or not run["curve"]["end_s"]:
            continue
        end_s = [*run["curve"]["end_s"], run["figures"]["last_end_s"]]
        best = [*run["curve"]["best"], run["curve"]["best"][-1]]
        axes.step(end_s, best, where="post", label=f"seed {run['seed']}")
    if report["target"] is not None:
        axes.axhline(report["target"], color="black", linestyle="--", label="target (grid best)")
    if grid_walls:
        wall = statistics.median(grid_walls)
        for fraction in (0.10, 0.25, 0.50, 1.0):
            axes.axvline(fraction * wall, color="grey", linewidth=0.6)
    axes.set(
        xlabel="seconds from the method's start",
        ylabel="best mean AUC over folds (complete combinations)",
        title=f"{method}: best score vs time ({report['size']})",
    )
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(report: dict[str, Any], out_dir: Path | None, name: str) -> str:
    """`<name>.md`, `<name>.json` and `<name>-<method>.png` in out_dir; returns the table."""
    table = table_markdown(report)
    if out_dir is None:
        return table
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(
        json.dumps({**report, "table": table}, indent=2, default=_plain)
    )
    plots = []
    for method in report["methods"]:
        path = out_dir / f"{name}-{method}.png"
        plot_method(report, method, path)
        plots.append(f"![{method}]({path.name})")
    header = [
        *header_lines(
            f"# Time to target `{name}` ({report['created_at']})", report, report["notes"]
        ),
        "Objective check (peers' objective on the grid's best combination vs ours): "
        + json.dumps(report["objective_check"]),
        "",
    ]
    (out_dir / f"{name}.md").write_text(
        "\n".join(header) + table + "\n\n" + "\n".join(plots) + "\n"
    )
    return table


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers for JSON; anything else as its text."""
    return value.item() if hasattr(value, "item") else str(value)
