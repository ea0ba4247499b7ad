"""The search space: fixed params x grid x folds as one `TrialSpec` per trial, with stable ids.

`expand` builds the specs (after LightGBM has checked the grid's values on a slice of the data);
`trials_table` and `specs_from_table` are the two directions of the storage boundary
(`tuning_trials`): the parameters are serialised there, and nowhere else between the expansion
and the executor.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from spark_lgbm_tuning.executor.fold_data import bin_train_part
from spark_lgbm_tuning.executor.trial import error_text
from spark_lgbm_tuning.executor.trial_spec import ID_FIELDS, TrialSpec
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, n_classes
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.portfolio import DataFacts
from spark_lgbm_tuning.pipelines.tuning.search_params import SearchRange
from spark_lgbm_tuning.vocabulary import lightgbm_params
from spark_lgbm_tuning.vocabulary.errors import InputDataError
from spark_lgbm_tuning.vocabulary.hashing import stable_hash
from spark_lgbm_tuning.vocabulary.lightgbm_params import LIGHTGBM_PARAMS_DOC, ParamValue, spellings
from spark_lgbm_tuning.vocabulary.trial_columns import COMBO_ID, FOLD_FINGERPRINT, PARAM_PREFIX

logger = logging.getLogger(__name__)

# Rows of the fold data LightGBM checks each grid value on before any trial runs.
VALUE_CHECK_ROWS = 200
# At ~1 ms per combination, the check stays within seconds on the largest default grid.
MAX_CHECKED_COMBINATIONS = 2000
_KIND_TO_PANDAS = {"bool": "boolean", "long": "Int64", "double": "Float64", "string": "string"}
_KIND_TO_PYTHON = {"bool": bool, "long": int, "double": float, "string": str}


def _column_kind(values: list[Any]) -> str:
    """One parquet/Spark type for a param_<name> column: bool, long, double or string."""
    if all(isinstance(value, bool) for value in values):
        return "bool"
    if all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        return "long"
    if all(isinstance(value, int | float) and not isinstance(value, bool) for value in values):
        return "double"
    return "string"


def param_kinds(params: TuningParams) -> dict[str, str]:
    """Grid axis -> the type of its param_<name> column (bool, long, double or string)."""
    kinds = {}
    for name, axis in params.grid.items():
        if isinstance(axis, SearchRange):
            kinds[name] = "long" if axis.integer else "double"
        else:
            kinds[name] = _column_kind(list(axis))
    return kinds


def param_value(value: Any, kind: str) -> ParamValue | None:
    """A grid value as its column's Python type (None for a missing one)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return _KIND_TO_PYTHON[kind](value)


def _lightgbm_refusal(x: np.ndarray, y: np.ndarray, lgb_params: dict[str, Any]) -> str | None:
    """LightGBM's reason for refusing `lgb_params` on (x, y), or None when it accepts them."""
    try:
        lgb.Booster(lgb_params, bin_train_part(x, y, lgb_params))
    except Exception as error:  # noqa: BLE001 - LightGBM raises LightGBMError or ValueError
        # Drop LightGBM's source location (" at /path/config_auto.cpp, line 352").
        return error_text(error).split(" at /")[0]
    return None


def _names_parameter(reason: str, name: str) -> bool:
    """Whether LightGBM's message (e.g. "Check failed: (feature_fraction) > (0.0)") names `name`."""
    return any(re.search(rf"\b{re.escape(spelling)}\b", reason) for spelling in spellings(name))


def _checked_combinations(params: TuningParams) -> Iterator[dict[str, ParamValue]]:
    """The grid's combinations; for an adaptive search, those of its lists and range ends."""
    if not params.search.adaptive:
        yield from params.combinations()
        return
    axes = {
        name: axis.ends() if isinstance(axis, SearchRange) else list(axis)
        for name, axis in params.grid.items()
    }
    for values in itertools.product(*axes.values()):
        yield dict(zip(axes, values, strict=True))


def check_grid_values(arrays: FoldArrays, params: TuningParams) -> None:
    """Let LightGBM check the grid's combinations on a slice of the data before any Spark work.

    An adaptive search's ranges are checked at both ends (with its lists' values).

    A value every checked combination with it is refused for (num_leaves: -1, max_bin: 1, ...)
    would only fail trials: it is named here instead. Values valid alone but not together
    (boosting: rf without bagging) still run and come back as failed trials.
    """
    train, _ = next(iter(arrays.rows.values()))
    sample = train[:VALUE_CHECK_ROWS]
    x, y = arrays.x[sample], arrays.y[sample]
    # value -> [combinations checked with it, reasons refused]
    outcomes: dict[tuple[str, str], list[Any]] = {}
    combinations = itertools.islice(_checked_combinations(params), MAX_CHECKED_COMBINATIONS)
    for combination in combinations:
        lgb_params = {**params.lightgbm_params(combination), "num_threads": 1}
        reason = _lightgbm_refusal(x, y, lgb_params)
        for name, value in combination.items():
            if name == lightgbm_params.GRID_ONLY_ROUNDS:  # not a LightGBM parameter
                continue
            outcome = outcomes.setdefault((name, json.dumps(value)), [0, []])
            outcome[0] += 1
            if reason is not None:
                outcome[1].append(reason)
    refused = [
        (name, value, reasons[0])
        for (name, value), (checked, reasons) in outcomes.items()
        if len(reasons) == checked
    ]
    if refused:
        # A single-valued axis LightGBM refuses makes every combination fail, so every value
        # looks refused: blame the parameter LightGBM's message names, under any spelling.
        named = [entry for entry in refused if _names_parameter(entry[2], entry[0])]
        name, value, reason = (named or refused)[0]
        raise InputDataError(
            f"tuning.grid.{name} value {value} is refused by LightGBM ({reason}): "
            f"choose values it accepts, see {LIGHTGBM_PARAMS_DOC}"
        )


def combo_payload(params: TuningParams, combination: Mapping[str, ParamValue]) -> dict[str, Any]:
    """What a combination's id is the hash of: task, LightGBM parameters and boosting settings."""
    return {
        "task": params.task,
        "params": params.lightgbm_params(combination),
        "num_boost_round": params.rounds(combination),
        "early_stopping_rounds": params.early_stopping_rounds or None,
    }


@dataclass(frozen=True)
class FoldFacts:
    """What a trial's spec needs of its fold: id, data fingerprint, train and test sizes."""

    fold_id: int
    fingerprint: str
    n_train: int
    n_test: int


def fold_facts(arrays: FoldArrays) -> list[FoldFacts]:
    """The facts of each fold of `arrays`, in fold order."""
    return [
        FoldFacts(fold_id, arrays.fingerprint(fold_id), len(train), len(test))
        for fold_id, (train, test) in arrays.rows.items()
    ]


def data_facts(arrays: FoldArrays, task: str) -> DataFacts:
    """What a portfolio start reads of the data: rows, feature columns, classes (0: regression),
    the share of numeric features."""
    n_features = len(arrays.features)
    numeric_share = 1 - len(arrays.categorical) / n_features if n_features else 1.0
    classes = {"regression": 0, "classification": 2}.get(task) or n_classes(arrays.y)
    return DataFacts(len(arrays.y), n_features, classes, numeric_share)


def trial_spec(
    params: TuningParams, combination: Mapping[str, ParamValue], fold: FoldFacts
) -> TrialSpec:
    """The spec of one (combination, fold): the one place trial and combination ids are made.

    `combo_id` hashes the combination's payload; `trial_id` adds the fold id and the fold's
    fingerprint, so results of a changed dataset never share an id.
    """
    payload = combo_payload(params, combination)
    lgb_params = payload["params"]
    return TrialSpec(
        trial_id=stable_hash({"combo": payload, "fold_id": fold.fold_id, "fold": fold.fingerprint}),
        combo_id=stable_hash(payload),
        fold_id=fold.fold_id,
        task=params.task,
        params=lgb_params,
        grid_values=dict(combination),
        num_boost_round=payload["num_boost_round"],
        early_stopping_rounds=params.early_stopping_rounds,
        dataset_key=stable_hash(lightgbm_params.dataset_params(lgb_params), length=8),
        fold_fingerprint=fold.fingerprint,
        n_train=fold.n_train,
        n_test=fold.n_test,
        timeout_s=params.trial_timeout_s,
    )


def expand(arrays: FoldArrays, params: TuningParams) -> list[TrialSpec]:
    """One spec per (fold, combination) of the grid, folds outer, combinations in grid order."""
    return [
        trial_spec(params, combination, fold)
        for fold in fold_facts(arrays)
        for combination in params.combinations()
    ]


def table_fingerprints(trials: pd.DataFrame) -> dict[int, set[str]]:
    """fold_id -> the data fingerprints the trials of `tuning_trials` were expanded with."""
    missing = sorted({"fold_id", FOLD_FINGERPRINT} - set(trials.columns))
    if trials.empty or missing:
        raise InputDataError(
            f"tuning_trials has {len(trials)} rows and lacks the column(s) {missing}: run "
            "expand_search_space with the same parameters"
        )
    expected: dict[int, set[str]] = {}
    for fold_id, fingerprint in zip(trials["fold_id"], trials[FOLD_FINGERPRINT], strict=True):
        expected.setdefault(int(fold_id), set()).add(str(fingerprint))
    return expected


# The columns of `tuning_trials` besides param_<name> and params_json: the trial's ids
# (trial_spec.ID_FIELDS), its boosting settings and its fold's facts.
TRIAL_SETTINGS = ("num_boost_round", "early_stopping_rounds")
FOLD_FACTS = ("dataset_key", FOLD_FINGERPRINT, "n_train", "n_test")


def trials_table(specs: list[TrialSpec], params: TuningParams) -> pd.DataFrame:
    """The specs as `tuning_trials`: ids, param_<name> columns, params_json, boosting settings,
    fold facts. One shape for every strategy: an adaptive search writes no row (it proposes its
    trials while it runs), its table keeps the columns."""
    kinds = param_kinds(params)
    rows = []
    for spec in specs:
        row: dict[str, Any] = {
            "trial_id": spec.trial_id,
            COMBO_ID: spec.combo_id,
            "fold_id": spec.fold_id,
        }
        for name, kind in kinds.items():
            row[f"{PARAM_PREFIX}{name}"] = param_value(spec.grid_values[name], kind)
        row["params_json"] = json.dumps(spec.params, sort_keys=True)
        # The boosting settings the trial runs with, kept with it: a notebook that reruns a
        # trial cannot see the --params of the run that expanded it.
        row["num_boost_round"] = spec.num_boost_round
        row["early_stopping_rounds"] = spec.early_stopping_rounds
        row["dataset_key"] = spec.dataset_key
        row[FOLD_FINGERPRINT] = spec.fold_fingerprint
        row["n_train"] = spec.n_train
        row["n_test"] = spec.n_test
        rows.append(row)
    columns = [
        *ID_FIELDS,
        *(f"{PARAM_PREFIX}{name}" for name in kinds),
        "params_json",
        *TRIAL_SETTINGS,
        *FOLD_FACTS,
    ]
    table = pd.DataFrame(rows, columns=columns)
    table["fold_id"] = table["fold_id"].astype("int32")
    table[["n_train", "n_test"]] = table[["n_train", "n_test"]].astype("int64")
    table["num_boost_round"] = table["num_boost_round"].astype("int64")
    table["early_stopping_rounds"] = table["early_stopping_rounds"].astype("Int64")
    for name, kind in kinds.items():
        table[f"{PARAM_PREFIX}{name}"] = table[f"{PARAM_PREFIX}{name}"].astype(
            _KIND_TO_PANDAS[kind]
        )
    return table


def _check_table(trials: pd.DataFrame, params: TuningParams) -> None:
    expected = {f"{PARAM_PREFIX}{name}" for name in params.grid}
    present = {column for column in trials.columns if str(column).startswith(PARAM_PREFIX)}
    if trials.empty or present != expected:
        raise InputDataError(
            f"tuning_trials has param columns {sorted(present)} and {len(trials)} rows, but the "
            f"grid asks for {sorted(expected)}: run expand_search_space with the same parameters"
        )
    missing = sorted(set(TRIAL_SETTINGS) - set(trials.columns))
    if missing:
        raise InputDataError(
            f"tuning_trials has no {missing} column (written by an older version): rerun "
            "expand_search_space"
        )


def specs_from_table(trials: pd.DataFrame, params: TuningParams) -> list[TrialSpec]:
    """The specs `tuning_trials` was written from (params_json parsed here, once per trial)."""
    _check_table(trials, params)
    kinds = param_kinds(params)
    specs = []
    for record in trials.to_dict("records"):
        lgb_params = json.loads(record["params_json"])
        rounds = int(record["num_boost_round"])
        early_stopping = record["early_stopping_rounds"]
        # The values the trial runs with: its LightGBM parameters are the truth, the param_<name>
        # columns a readable copy.
        grid_values = {
            name: param_value(
                rounds if name == lightgbm_params.GRID_ONLY_ROUNDS else lgb_params.get(name), kind
            )
            for name, kind in kinds.items()
        }
        specs.append(
            TrialSpec(
                trial_id=str(record["trial_id"]),
                combo_id=str(record[COMBO_ID]),
                fold_id=int(record["fold_id"]),
                task=params.task,
                params=lgb_params,
                grid_values=grid_values,
                num_boost_round=rounds,
                early_stopping_rounds=None if pd.isna(early_stopping) else int(early_stopping),
                dataset_key=str(record["dataset_key"]),
                fold_fingerprint=str(record[FOLD_FINGERPRINT]),
                n_train=int(record["n_train"]),
                n_test=int(record["n_test"]),
                timeout_s=params.trial_timeout_s,
            )
        )
    return specs
