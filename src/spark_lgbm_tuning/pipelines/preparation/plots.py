"""Figures of the folds, drawn from fold_summary alone, for every kind of folds.

Time windows (every split one unbroken run of rows) are drawn where they lie, on the time axis
or, without a time column, on the row axis; k-fold parts, scattered over the rows, as the rows
each fold trains and tests on. Built on the Agg canvas: headless, and outside pyplot's figure
registry (nothing to close, no cross-talk between concurrent nodes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spark_lgbm_tuning.pipelines.tuning.folds import SPLITS

from .folds import SUMMARY_COLUMNS

COLORS = {"train": "tab:blue", "test": "tab:orange"}


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _checked_summary(fold_summary: pd.DataFrame) -> pd.DataFrame:
    """The summary sorted by fold then split, its times parsed back from the CSV's strings."""
    missing = [column for column in SUMMARY_COLUMNS if column not in fold_summary.columns]
    if missing:
        raise ValueError(f"fold_summary lacks column(s) {missing}")
    if fold_summary.empty:
        raise ValueError("fold_summary has no folds to plot")
    summary = fold_summary.copy()
    summary["order"] = summary["split"].map({split: k for k, split in enumerate(SPLITS)})
    summary = summary.sort_values(["fold_id", "order"]).reset_index(drop=True)
    for column in ("start", "end"):
        # The CSV round trip turns dates into strings; a numeric time (a year, a step) stays.
        if summary[column].dtype == object:
            summary[column] = pd.to_datetime(summary[column])
    return summary


def _split(summary: pd.DataFrame, split: str) -> pd.DataFrame:
    part = summary[summary["split"] == split].set_index("fold_id")
    if len(part) != summary["fold_id"].nunique():
        raise ValueError(f"fold_summary lacks the {split} part of some fold")
    return part


def _draw_windows(ax: Axes, summary: pd.DataFrame) -> str:
    """Each split's window as a bar from its start to its end; the x-axis label."""
    on_time = bool(summary["start"].notna().all())
    for split in SPLITS:
        part = _split(summary, split)
        if on_time:
            left, width = part["start"].to_numpy(), (part["end"] - part["start"]).to_numpy()
        else:
            left = part["first_row"].to_numpy()
            width = (part["last_row"] - part["first_row"] + 1).to_numpy()
        ax.barh(part.index, width, left=left, height=0.6, color=COLORS[split], label=split)
    return "time" if on_time else "row (the row order is the time order)"


def _draw_row_counts(ax: Axes, summary: pd.DataFrame) -> str:
    """Each fold's train and test rows as one stacked bar; the x-axis label."""
    left = np.zeros(summary["fold_id"].nunique())
    for split in SPLITS:
        part = _split(summary, split)
        bars = ax.barh(
            part.index, part["n_rows"], left=left, height=0.6, color=COLORS[split], label=split
        )
        ax.bar_label(bars, label_type="center", fontsize=8)
        left = left + part["n_rows"].to_numpy()
    return "rows"


def plot_folds_timeline(fold_summary: pd.DataFrame) -> Figure:
    """Where each fold's train and test rows lie: windows in time (or row) order, else counts."""
    summary = _checked_summary(fold_summary)
    fold_ids = sorted(summary["fold_id"].unique())
    figure = _figure(12, 1.2 + 0.6 * len(fold_ids))
    ax = figure.subplots()
    windows = bool((summary["runs"] == 1).all())
    if windows:
        xlabel = _draw_windows(ax, summary)
        title = f"{len(fold_ids)} folds: train and test windows"
    else:
        xlabel = _draw_row_counts(ax, summary)
        title = f"{len(fold_ids)} folds: rows per fold (test parts spread over the data)"
    ax.set_yticks(fold_ids, [f"fold {k}" for k in fold_ids])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    # Windows: the first (top) fold ends earliest, so that corner is free.
    ax.legend(loc="upper right" if windows else "lower right")
    return figure


def plot_fold_class_balance(fold_summary: pd.DataFrame) -> Figure:
    """Positive-class ratio (or, for a non-0/1 target, its mean) per fold, train next to test."""
    summary = _checked_summary(fold_summary)
    binary = bool(summary["positive_ratio"].notna().all())
    column = "positive_ratio" if binary else "target_mean"
    if summary[column].isna().any():
        raise ValueError("fold_summary has no target mean to plot (the target is not numeric)")
    label = "positive-class ratio" if binary else "target mean"
    fold_ids = sorted(summary["fold_id"].unique())
    figure = _figure(max(8, 1.2 * len(fold_ids)), 4.5)
    ax = figure.subplots()
    positions = np.arange(len(fold_ids))
    width = 0.4
    for offset, split in ((-width / 2, "train"), (width / 2, "test")):
        part = _split(summary, split).loc[fold_ids]
        bars = ax.bar(
            positions + offset, part[column], width=width, color=COLORS[split], label=split
        )
        ax.bar_label(bars, fmt="%.3f", fontsize=8)
    ax.set_xticks(positions, [f"fold {k}" for k in fold_ids])
    ax.set_ylabel(label)
    ax.set_title(f"{label[0].upper()}{label[1:]} per fold")
    ax.legend(loc="lower right")
    return figure
