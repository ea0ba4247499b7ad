"""The rows that tools/rung_replay.py replays: every (combination, fold) run once unpruned with the
project's trial code, its validation metric noted at every round, and what every replay reads of
them (curves, means, the rule of a setting, where a run stops)."""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spark_lgbm_tuning.executor import fold_data, trial, trial_spec
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows, searched_params
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.search_params import RoundPruningParams
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from tools.benchmark_setup import Size, make_inputs
from tools.ttt_ours import tuning_params
from tools.ttt_space import TttSize, is_range

logger = logging.getLogger(__name__)


# The settings replayed: eta x min_rounds x min_trials x margin (in the rung metric's units).
SETTINGS = {
    "eta": (2.0, 3.0),
    "min_rounds": (25, 100, 300),
    "min_trials": (2, 4, 6),
    "margin": (0.0, 0.002),
}
# A completed combination within this much (primary metric) of the true best counts as found.
TOLERANCE = 0.0005
# What run_trial returns besides its row's fields, not kept (big, and not replayed).
_EXTRAS = (trial_spec.TEST_PREDICTIONS, trial_spec.LEARNING_CURVE)


# ------------------------------------------------------------------------------ recording


def load_arrays(
    size: TttSize, conf: Path, columns: ColumnParams, seed: int = 1, input_dir: Path | None = None
) -> FoldArrays:
    """The data and folds: `input_dir`'s model_input.parquet and model_folds.parquet (as the
    preparation pipeline writes them), else the size's synthetic table made as `kedro run`
    makes it."""
    if input_dir is not None:
        data = pd.read_parquet(input_dir / "model_input.parquet")
        folds = pd.read_parquet(input_dir / "model_folds.parquet")
    else:
        data_size = Size(size.rows, size.features, size.folds, 0, 0, size.num_boost_round, 0, 1)
        data, folds, _ = make_inputs(data_size, seed, conf, columns)
    return FoldArrays(data, fold_rows(folds, None, len(data)), columns)


def run_unpruned(
    params: TuningParams, combinations: list[dict[str, Any]], arrays: FoldArrays
) -> list[dict[str, Any]]:
    """Every (combination, fold) run in full, one thread, its rung score noted at every round.

    Rows fold by fold, combinations in the given order within a fold; combo_id `c<index>`.
    """
    rows = []
    for fold_id in sorted(arrays.rows):
        x_train, y_train, x_test, y_test = arrays.split(fold_id)
        for combo_index, combination in enumerate(combinations):
            lightgbm = {**params.lightgbm_params(combination), "num_threads": 1}
            fold = fold_data.fold_from_arrays(x_train, y_train, x_test, y_test, lightgbm)
            spec = trial_spec.TrialSpec(
                trial_id=f"c{combo_index}-f{fold_id}",
                combo_id=f"c{combo_index}",
                fold_id=fold_id,
                task=params.task,
                params=lightgbm,
                grid_values=combination,
                num_boost_round=params.rounds(combination),
                early_stopping_rounds=params.early_stopping_rounds,
                rungs=tuple(range(1, params.rounds(combination) + 1)),
            )
            row = trial.run_trial(spec, fold)
            for extra in _EXTRAS:
                row.pop(extra, None)
            row["params_json"] = json.dumps(lightgbm, sort_keys=True)
            rows.append(row)
            logger.info("%s: %s, %s rounds", spec.trial_id, row["status"], row["best_iteration"])
    return rows


def record_rows(
    size: TttSize,
    conf: Path,
    columns: ColumnParams,
    seed: int = 1,
    input_dir: Path | None = None,
) -> tuple[TuningParams, list[dict[str, Any]]]:
    """Every (combination, fold) of `size`'s grid run unpruned, rung scores at every round."""
    arrays = load_arrays(size, conf, columns, seed, input_dir)
    params = searched_params(tuning_params(size, conf), arrays)
    return params, run_unpruned(params, list(params.combinations()), arrays)


def sample_combinations(ranges: Mapping[str, Any], n: int, seed: int) -> list[dict[str, Any]]:
    """`n` combinations drawn uniformly from `ranges` (log-uniform where `log`; an int range over
    [low - 0.5, high + 0.5] rounded, as Optuna's suggest_int; a list: one of its values)."""
    rng = np.random.default_rng(seed)
    combinations = []
    for _ in range(n):
        combination: dict[str, Any] = {}
        for name, spec in ranges.items():
            if not is_range(spec):
                combination[name] = list(spec)[int(rng.integers(len(spec)))]
                continue
            low, high = (
                (spec["low"] - 0.5, spec["high"] + 0.5)
                if spec.get("int")
                else (
                    spec["low"],
                    spec["high"],
                )
            )
            value = (
                math.exp(rng.uniform(math.log(low), math.log(high)))
                if spec.get("log")
                else rng.uniform(low, high)
            )
            if spec.get("int"):
                value = min(max(round(value), int(spec["low"])), int(spec["high"]))
            combination[name] = float(value) if not spec.get("int") else int(value)
        combinations.append(combination)
    return combinations


def record_adaptive_rows(
    size: TttSize,
    conf: Path,
    columns: ColumnParams,
    n_combinations: int,
    *,
    seed: int = 1,
    sample_seed: int = 0,
    input_dir: Path | None = None,
) -> tuple[TuningParams, list[dict[str, Any]], list[dict[str, Any]]]:
    """(params, rows, combinations): `n_combinations` drawn from `size`'s ranges, every fold of
    each run unpruned (the grid's fixed parameters, cap and patience)."""
    arrays = load_arrays(size, conf, columns, seed, input_dir)
    params = searched_params(tuning_params(size, conf), arrays)
    combinations = sample_combinations(size.ranges, n_combinations, sample_seed)
    return params, run_unpruned(params, combinations, arrays), combinations


# ------------------------------------------------------------------------------ reading rows


def rounds_run(row: Mapping[str, Any]) -> int:
    return max(curve(row))


def curve(row: Mapping[str, Any]) -> dict[int, float]:
    """The row's rung scores (every round) by round; parsed once per distinct text."""
    return _parsed(row["rung_scores"])


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> dict[int, float]:
    return {int(rung): float(score) for rung, score in json.loads(text).items()}


def stop_at(
    noted: Mapping[int, float], rungs: Iterable[int], thresholds: Mapping[int, float], higher: bool
) -> tuple[int | None, dict[str, float]]:
    """(the rung a run with these noted scores stops at, or None; the rung scores it notes)."""
    kept = {}
    for rung in rungs:
        if rung not in noted:
            break
        kept[str(rung)] = noted[rung]
        threshold = thresholds.get(rung)
        if threshold is not None and (
            noted[rung] < threshold if higher else noted[rung] > threshold
        ):
            return rung, kept
    return None, kept


def combo_means(rows: Iterable[Mapping[str, Any]], metric: str) -> dict[str, float]:
    """combo_id -> its mean primary metric over its folds, in the order combos first appear."""
    scores: dict[str, list[float]] = {}
    for row in rows:
        scores.setdefault(row["combo_id"], []).append(float(row[metric]))
    return {combo: float(np.mean(values)) for combo, values in scores.items()}


def asha_rule(values: Mapping[str, Any]) -> RoundPruningParams:
    return RoundPruningParams(
        rule="asha", **{name: values[name] for name in SETTINGS if name in values}
    )


def markdown(results: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    columns = columns or [*SETTINGS, "n_pruned", "n_trials", "rounds_share", "keeps_winner", "gap"]
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for result in results:
        cells = [
            f"{value:.4g}" if isinstance(value, float) else "-" if value is None else str(value)
            for value in (result[column] for column in columns)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
