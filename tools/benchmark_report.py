"""The benchmark's figures and report files: medians, ratios, metric checks, markdown, JSON."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import statistics
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.vocabulary.statuses import OK
from tools.benchmark_setup import FIVE_METRICS, Settings

logger = logging.getLogger(__name__)

# ------------------------------------------------------------------------------ one run


def metric_differences(ours: pd.DataFrame, reference: pd.DataFrame) -> dict[str, Any]:
    """Largest absolute difference per metric between ours and the reference, per trial."""
    merged = ours.merge(reference, on="trial_id", suffixes=("_ours", "_reference"))
    diffs = {
        name: float((merged[f"{name}_ours"] - merged[f"{name}_reference"]).abs().max())
        for name in FIVE_METRICS
    }
    same_rounds = bool((merged["best_iteration_ours"] == merged["best_iteration_reference"]).all())
    return {
        "trials_compared": len(merged),
        "max_abs_diff": diffs,
        "same_best_iteration": same_rounds,
    }


def summarise(values: list[float]) -> dict[str, Any]:
    return {"runs_s": values, "median_s": statistics.median(values)} if values else {}


def _median(table: dict[str, Any], method: str) -> float | None:
    return table.get(method, {}).get("median_s")


def ratios(methods: dict[str, Any], n_trials: int) -> dict[str, Any]:
    """Trials per minute, ratio to the limit and speed-ups from the medians of one run."""
    limit = _median(methods, "limit")
    ours = _median(methods, "ours")
    for name, entry in methods.items():
        if not entry:
            continue
        entry["trials_per_minute"] = 60 * n_trials / entry["median_s"]
        entry["ratio_to_limit"] = entry["median_s"] / limit if limit else None
        if ours and name not in {"ours", "limit"}:
            entry["ours_speedup"] = entry["median_s"] / ours
    reference, gridsearch = _median(methods, "reference"), _median(methods, "gridsearch")
    return {
        "ratio_to_limit": ours / limit if ours and limit else None,
        "speedup_vs_reference": reference / ours if ours and reference else None,
        "speedup_vs_gridsearch": gridsearch / ours if ours and gridsearch else None,
    }


def trial_figures(results: pd.DataFrame, run_info: dict[str, Any]) -> dict[str, Any]:
    """Per-trial overheads and memory of our run, from its result rows and run info."""
    ok = results[results["status"] == OK]
    return {
        "n_ok": len(ok),
        "driver_binning_s": run_info["binning_s"],
        "job_s": run_info["job_s"],
        "sum_fit_s": float(ok["fit_s"].sum()),
        # CPU seconds of the fits (cpu_utilisation x fit_s x 1 thread): the work itself, which
        # other processes on the machine do not inflate the way they inflate wall seconds.
        "sum_fit_cpu_s": float((ok["cpu_utilisation"] * ok["fit_s"]).sum()),
        "median_cpu_utilisation": float(ok["cpu_utilisation"].median()),
        "sum_data_load_s": float(ok["data_load_s"].sum()),
        "sum_predict_s": float(ok["predict_s"].sum()),
        "median_peak_rss_mb": float(ok["peak_rss_mb"].median()),
        "max_peak_rss_mb": float(ok["peak_rss_mb"].max()),
        "efficiency": run_info["efficiency"],
    }


# ------------------------------------------------------------------------------ report


def machine() -> dict[str, Any]:
    """CPU model, cores, memory and the versions that matter."""
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    packages = ("lightgbm", "pyspark", "scikit-learn", "pandas", "numpy", "pyarrow", "kedro")
    return {
        "cpu_model": model,
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {name: version(name) for name in packages},
    }


def table_markdown(report: dict[str, Any]) -> str:
    """The results table: wall seconds, trials/minute, ratio to the limit, our speed-up."""
    lines = []
    for mode, entry in report["modes"].items():
        lines += [
            f"### {mode} ({entry['n_trials']} trials, num_boost_round {entry['num_boost_round']}"
            f", early_stopping_rounds {entry['early_stopping_rounds']})",
            "",
            "| method | median wall s | runs s | trials/min | ratio to limit | ours faster by |",
            "|---|---:|---|---:|---:|---:|",
        ]
        for method, stats in entry["methods"].items():
            if not stats:
                continue
            ratio = stats.get("ratio_to_limit")
            speedup = stats.get("ours_speedup")
            lines.append(
                f"| {method} | {stats['median_s']:.2f} | "
                + ", ".join(f"{value:.1f}" for value in stats["runs_s"])
                + f" | {stats['trials_per_minute']:.1f} | "
                + ("" if ratio is None else f"{ratio:.3f}")
                + " | "
                + ("" if speedup is None else f"{speedup:.3f}x")
                + " |"
            )
        if entry.get("single_thread_limit_s"):
            ratio = entry.get("ratio_to_single_thread_limit")
            lines += [
                "",
                f"Limit with one LightGBM thread per trial on every core (the same work in "
                f"single-thread core-seconds / cores): {entry['single_thread_limit_s']:.2f} s"
                + ("" if ratio is None else f"; ours is {ratio:.3f} x that")
                + ".",
            ]
        check = entry.get("metrics_vs_reference")
        if check:
            worst = max(check["max_abs_diff"].values())
            lines += [
                "",
                f"Metrics vs the reference over {check['trials_compared']} trials: largest "
                f"absolute difference {worst:.3g}; same best iteration: "
                f"{check['same_best_iteration']}.",
            ]
        lines.append("")
    lines += _extra_lines(report)
    return "\n".join(lines)


def _extra_lines(report: dict[str, Any]) -> list[str]:
    """The table's optional parts: levers and the shared-rounds comparison."""
    lines: list[str] = []
    if report.get("levers"):
        lines += ["### Levers (ours with one optimisation off)", ""]
        lines += ["| lever | mode | off s | on s | saved s |", "|---|---|---:|---:|---:|"]
        for entry in report["levers"].values():
            on, saved = entry["on_median_s"], entry["seconds_saved"]
            lines.append(
                f"| {entry['lever']} | {entry['mode']} | {entry['off_median_s']:.2f} | "
                + ("" if on is None else f"{on:.2f}")
                + " | "
                + ("" if saved is None else f"{saved:.2f}")
                + " |"
            )
        lines.append("")
    shared = report.get("shared_rounds")
    if shared:
        lines += [
            f"### num_boost_round axis {shared['rounds_grid']} ({shared['n_trials']} trials)",
            "",
            f"Shared boosting runs {shared['shared_s']:.2f} s, one run per trial "
            f"{shared['separate_s']:.2f} s: {shared['seconds_saved']:.2f} s saved; largest "
            f"metric difference {max(shared['max_abs_metric_diff'].values()):.3g}.",
            "",
        ]
    return lines


def header_lines(title: str, report: dict[str, Any], notes: str = "") -> list[str]:
    """The markdown head of a benchmark report: title, notes, command, machine, load, parameters."""
    return [
        title,
        "",
        *([f"**{notes}**", ""] if notes else []),
        f"Command: `{report['command']}`",
        "",
        "Machine: " + json.dumps(report["machine"]),
        "",
        f"Load average before {report['load_average_before']}, after "
        f"{report['load_average_after']}; wall {report['wall_s']:.0f} s.",
        "",
        "Parameters: " + json.dumps(report["parameters"]),
        "",
    ]


def write_report(report: dict[str, Any], settings: Settings) -> str:
    """The markdown (machine, parameters, table) and JSON files; returns the table."""
    table = table_markdown(report)
    if settings.out_dir is None:
        return table
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    name = settings.name
    (settings.out_dir / f"{name}.json").write_text(json.dumps(report, indent=2, default=str))
    if name == "medium" and "fixed" in report["modes"]:
        (settings.out_dir / "latest.json").write_text(json.dumps(report, indent=2, default=str))
    header = header_lines(f"# Benchmark `{name}` ({report['created_at']})", report)
    (settings.out_dir / f"{name}.md").write_text("\n".join(header) + table + "\n")
    return table


def mode_entry(
    times: dict[str, list[float]],
    extra: dict[str, Any],
    *,
    params: TuningParams,
    n_trials: int,
    n_slots: int,
) -> dict[str, Any]:
    """One mode's part of the report: medians, ratios, the metric check, our trials' figures."""
    table = {method: summarise(values) for method, values in times.items()}
    entry: dict[str, Any] = {
        "n_trials": n_trials,
        "num_boost_round": params.num_boost_round,
        "early_stopping_rounds": params.early_stopping_rounds,
        "methods": table,
    }
    entry.update(ratios(table, n_trials))
    if "single_thread_limit_s" in extra:
        ours = _median(table, "ours")
        entry["single_thread_limit_s"] = extra["single_thread_limit_s"]
        entry["ratio_to_single_thread_limit"] = (
            ours / extra["single_thread_limit_s"] if ours else None
        )
    if "ours_results" in extra and "reference_results" in extra:
        entry["metrics_vs_reference"] = metric_differences(
            extra["ours_results"], extra["reference_results"]
        )
    if "ours_results" in extra:
        entry["ours_trials"] = trial_figures(extra["ours_results"], extra["run_info"])
    if "limit" in extra:
        entry["limit_detail"] = {
            "sum_boosting_s": sum(extra["limit"]["boosting_s"].values()),
            # CPU seconds of those runs: below sum_boosting_s when other processes took cores.
            "sum_boosting_cpu_s": sum(extra["limit"]["boosting_cpu_s"].values()),
            "slots": n_slots,
            "binning": extra["limit"]["binning"],
        }
    return entry
