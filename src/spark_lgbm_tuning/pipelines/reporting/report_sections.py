"""The report's tables as HTML: facts, the sortable leaderboard (parameters first, ids last), the
per-fold metric table, the run's metadata (search space, code, data fingerprints) and failed
trials. Pure string building; every cell escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import yaml

from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.vocabulary.statuses import OK
from spark_lgbm_tuning.vocabulary.trial_columns import (
    COMBO_ID,
    FOLD_FINGERPRINT,
    PARAM_PREFIX,
    STATUS,
)

from .results import plain, truncate

#: Columns that identify rather than describe a combination or trial: shown last.
SHOWN_LAST = (COMBO_ID, "trial_id")


def format_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        return f"{value:.5g}"
    return str(value)


def facts_table(facts: list[tuple[str, Any]]) -> str:
    rows = "\n".join(
        f'<tr><th class="text">{html.escape(str(name))}</th>'
        f'<td class="text">{html.escape(format_value(value))}</td></tr>'
        for name, value in facts
    )
    return f'<table class="facts">\n{rows}\n</table>'


def _cell(value: Any) -> str:
    """A <td>; numbers carry their full value in data-value, which the sort reads."""
    shown = html.escape(format_value(value))
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    ):
        sort_value = "" if pd.isna(value) else repr(float(value))
        return f'<td data-value="{sort_value}">{shown}</td>'
    return f'<td class="text">{shown}</td>'


def sortable_table(frame: pd.DataFrame, table_id: str) -> str:
    """`frame` as a table whose columns sort on a click on their header (report_page.SORT_JS)."""
    header = "".join(
        f'<th title="click to sort">{html.escape(str(column))}</th>' for column in frame.columns
    )
    body = "\n".join(
        "<tr>" + "".join(_cell(value) for value in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return (
        f'<div class="wide"><table class="sortable" id="{html.escape(table_id)}">\n'
        f"<thead><tr>{header}</tr></thead>\n<tbody>\n{body}\n</tbody></table></div>"
    )


def plain_table(frame: pd.DataFrame) -> str:
    table = frame.to_html(
        index=False, escape=True, border=0, na_rep="—", float_format=lambda value: f"{value:.5g}"
    )
    return f'<div class="wide">\n{table}\n</div>'


def params_first(frame: pd.DataFrame, primary: str) -> pd.DataFrame:
    """`frame` with rank, then the grid values (named without `param_`), then the primary
    metric, the other columns as they were, and the id columns last."""
    grid = [column for column in frame.columns if column.startswith(PARAM_PREFIX)]
    ids = [column for column in SHOWN_LAST if column in frame]
    lead = [column for column in ("rank", *grid) if column in frame]
    lead += [column for column in (f"{primary}_mean", f"{primary}_std") if column in frame]
    rest = [column for column in frame.columns if column not in {*lead, *ids}]
    ordered = frame[lead + rest + ids]
    return ordered.rename(columns=lambda column: column.removeprefix(PARAM_PREFIX))


def per_fold_table(
    tuning_results: pd.DataFrame, leaderboard: pd.DataFrame, primary: str, top_n: int
) -> pd.DataFrame:
    """The top `top_n` combinations' primary metric on each fold (a fold that did not finish
    ok shows its status), with their mean and std; parameters first, combo_id last."""
    top = leaderboard.sort_values("rank").head(top_n)
    trials = tuning_results[tuning_results[COMBO_ID].isin(top[COMBO_ID])]
    shown = trials[primary].astype(object).where(trials[STATUS] == OK, trials[STATUS])
    wide = (
        trials.assign(shown=shown)
        .pivot_table(index=COMBO_ID, columns="fold_id", values="shown", aggfunc="first")
        .rename(columns=lambda fold_id: f"fold {fold_id}")
    )
    keep = ["rank", *[c for c in top if c.startswith(PARAM_PREFIX)]]
    keep += [f"{primary}_mean", f"{primary}_std", COMBO_ID]
    table = top[keep].join(wide, on=COMBO_ID)
    return params_first(table, primary)


def search_space(
    tuning_params: TuningParams, run_info: Mapping[str, Any], n_combinations: int
) -> str:
    """How the space was searched: strategy, the grid's values, the round cap, early stopping,
    pruning when the search recorded it; then the whole params:tuning block (ranges and all).
    `n_combinations` (the leaderboard's) stands in when the run recorded no count."""
    grid = tuning_params.grid
    facts: list[tuple[str, Any]] = [
        ("strategy", run_info.get("strategy", "grid")),
        ("combinations searched", run_info.get("n_combinations", n_combinations)),
        *[(f"grid: {name}", ", ".join(map(str, values))) for name, values in grid.items()],
        ("round cap (num_boost_round)", _round_cap(tuning_params)),
        ("early stopping rounds", tuning_params.early_stopping_rounds or "off (fixed rounds)"),
        ("primary metric", tuning_params.primary_metric),
        ("folds", tuning_params.folds or "every fold"),
    ]
    for key, name in (
        ("n_pruned", "combinations pruned"),
        ("boosting_s_saved_by_pruning", "boosting seconds saved by pruning"),
        ("n_pruned_at_rung", "trials pruned at a rung (round pruning)"),
        ("pruned_at_rung", "trials pruned per rung round"),
        ("boosting_rounds_cut_at_rungs", "boosting rounds cut at rungs (at most)"),
    ):
        if key in run_info:
            facts.append((name, run_info[key]))
    block = yaml.safe_dump({"tuning": plain(tuning_params)}, sort_keys=False)
    return (
        f"{facts_table(facts)}\n<details><summary>The whole <code>params:tuning</code> block"
        f"</summary><pre>{html.escape(block)}</pre></details>"
    )


def _round_cap(tuning_params: TuningParams) -> str:
    axis = tuning_params.grid.get("num_boost_round")
    if axis:
        return f"grid axis: {', '.join(map(str, axis))}"
    return str(tuning_params.num_boost_round)


def fingerprints(tuning_results: pd.DataFrame) -> pd.DataFrame:
    """fold_id -> the data fingerprint its reported trials were computed on."""
    table = tuning_results.groupby("fold_id")[FOLD_FINGERPRINT].agg(
        lambda f: ", ".join(sorted(set(f)))
    )
    return table.reset_index().rename(columns={FOLD_FINGERPRINT: "data fingerprint"})


def code_and_env(environment: Mapping[str, Any], run_info: Mapping[str, Any]) -> str:
    """Kedro env, git commit, Python and package versions."""
    commit = environment.get("git_commit")
    if commit and environment.get("git_dirty"):
        commit = f"{commit} (with uncommitted changes)"
    env = run_info.get("env") or environment.get("kedro_env")
    facts: list[tuple[str, Any]] = [
        ("Kedro env", env or "not recorded (KEDRO_ENV unset; see the run's --env)"),
        ("git commit", commit or "not a git work tree"),
        ("Python", environment.get("python")),
    ]
    facts += [(name, version) for name, version in environment.get("packages", {}).items()]
    return facts_table(facts)


def outcome_counts(tuning_results: pd.DataFrame, run_info: Mapping[str, Any]) -> str:
    """Trials per status (ok, failed, timed out, pruned ...) and how many the store reused."""
    counts = tuning_results[STATUS].astype(str).value_counts()
    facts: list[tuple[str, Any]] = [("trials", len(tuning_results))]
    for status in sorted(counts.index, key=lambda name: (name != OK, name)):
        facts.append((f"trials {status.replace('_', ' ')}", int(counts[status])))
    for key, name in (("n_reused", "reused from the trial store"), ("n_run", "run this time")):
        if key in run_info:
            facts.append((name, run_info[key]))
    return facts_table(facts)


def failed_trials(tuning_results: pd.DataFrame, limit: int) -> str:
    failed = tuning_results[tuning_results[STATUS] != OK].sort_values([COMBO_ID, "fold_id"])
    if failed.empty:
        return f"<p>None: all {len(tuning_results)} trials finished ok.</p>"
    names = ["fold_id", STATUS, "pruned_at_round", "executor_id", "host", COMBO_ID, "trial_id"]
    if "pruned_at_round" not in failed or failed["pruned_at_round"].isna().all():
        names.remove("pruned_at_round")  # shown only when a trial was pruned at a rung
    columns = [c for c in names if c in failed]
    header = "".join(f'<th class="text">{html.escape(c)}</th>' for c in [*columns, "error"])
    body = "\n".join(
        "<tr>"
        + "".join(f'<td class="text">{html.escape(format_value(row[c]))}</td>' for c in columns)
        + f'<td class="text"><pre>{html.escape(truncate(row["error"], limit))}</pre></td></tr>'
        for _, row in failed.iterrows()
    )
    summary = f"<p>{len(failed)} of {len(tuning_results)} trials did not finish ok.</p>"
    return f"{summary}\n<table>\n<tr>{header}</tr>\n{body}\n</table>"
