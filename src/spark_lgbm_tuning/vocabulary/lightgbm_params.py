"""The one table of LightGBM facts the project relies on: metrics, aliases, reserved names.

Executors import it too (through `trial.py`), so it imports neither Kedro nor pyspark. Alias sets
come from LightGBM's own table (the C API's LGBM_DumpParamAliases, as the Python package reads
it), so every spelling LightGBM accepts is covered by the version installed, `nrounds` included.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
from lightgbm import Booster, Dataset, train
from lightgbm.basic import _ConfigAliases

LIGHTGBM_PARAMS_DOC = "https://lightgbm.readthedocs.io/en/latest/Parameters.html"

# A parameter value as the YAML parameters give it (LightGBM takes each as it is).
ParamValue = bool | int | float | str

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "auc_roc", "logloss")
# Multiclass: the macro mean of each class's one-vs-rest ROC AUC, LightGBM's multi_logloss,
# accuracy of the most probable class and the macro mean of each class's F1.
MULTICLASS_METRICS = ("auc_ovr_macro", "multi_logloss", "accuracy", "f1_macro")
REGRESSION_METRICS = ("rmse", "mae", "r2")
METRICS = tuple(dict.fromkeys(CLASSIFICATION_METRICS + MULTICLASS_METRICS + REGRESSION_METRICS))
TASK_METRICS = {
    "classification": CLASSIFICATION_METRICS,
    "multiclass": MULTICLASS_METRICS,
    "regression": REGRESSION_METRICS,
}
# The metric that ranks combinations when tuning.primary_metric is left out (null).
DEFAULT_PRIMARY_METRIC = {
    "classification": "auc_roc",
    "multiclass": "auc_ovr_macro",
    "regression": "rmse",
}
HIGHER_IS_BETTER = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "auc_roc": True,
    "logloss": False,
    "auc_ovr_macro": True,
    "multi_logloss": False,
    "f1_macro": True,
    "rmse": False,
    "mae": False,
    "r2": True,
}
# LightGBM's validation metrics where larger is better (its C++ metrics' factor_to_bigger_better);
# every other one is a loss. Names as LightGBM reports them (ndcg@5 is ndcg).
LIGHTGBM_HIGHER_IS_BETTER = frozenset({"auc", "average_precision", "auc_mu", "ndcg", "map"})
# Objectives whose predictions are P(class 1), which the classification metrics assume.
CLASSIFICATION_OBJECTIVES = frozenset({"binary", "cross_entropy", "xentropy"})
# Objectives whose predictions are one probability per class (softmax), as the multiclass
# metrics assume; num_class comes from the data's classes (TuningParams.with_num_class).
MULTICLASS_OBJECTIVES = frozenset({"multiclass", "softmax"})
# The validation metric a multiclass search stops early on, with LightGBM's other names for it.
MULTICLASS_EARLY_STOPPING = "multi_logloss"
MULTICLASS_EARLY_STOPPING_NAMES = frozenset({"multi_logloss", "multiclass", "softmax"})
CLASSIFICATION_THRESHOLD = 0.5


@functools.cache
def _alias_table() -> dict[str, frozenset[str]]:
    """Canonical LightGBM parameter name -> every name LightGBM accepts for it (itself included)."""
    return {
        name: frozenset({name, *aliases})
        for name, aliases in _ConfigAliases._get_all_param_aliases().items()
    }


def aliases(canonical: str) -> frozenset[str]:
    """Every name LightGBM reads as `canonical` (e.g. num_iterations: n_estimators, nrounds...)."""
    return _alias_table()[canonical]


def spellings(name: str) -> frozenset[str]:
    """Every name LightGBM reads as the same parameter as `name` (an alias or canonical name)."""
    for names in _alias_table().values():
        if name in names:
            return names
    return frozenset({name})


# The end of each cost-bearing parameter's range where a boosting run is cheap (FLAML's low-cost
# start): fewer leaves, shallower trees, larger leaves, more learning per round, fewer rounds.
# The others (regularisation, sampling fractions) bear no cost either way.
CHEAP_ENDS: dict[str, str] = {
    "num_leaves": "low",
    "max_depth": "low",
    "min_data_in_leaf": "high",
    "learning_rate": "high",
    "num_iterations": "low",
}


def cheap_end(name: str) -> str | None:
    """ "low" or "high": where `name` (any spelling) makes a run cheap; None: no cost either way."""
    for canonical, end in CHEAP_ENDS.items():
        if name in aliases(canonical):
            return end
    return "low" if name == "num_boost_round" else None


# The number of boosting rounds: the search sets it from num_boost_round (a grid axis allowed).
ROUND_ALIASES = aliases("num_iterations")
# Threads are the executor's business: spark.task.cpus.
THREAD_ALIASES = aliases("num_threads")
# Early stopping comes from early_stopping_rounds (the refit, without a validation set, drops it).
EARLY_STOPPING_ALIASES = aliases("early_stopping_round")
# LightGBM's names for its evaluation metric parameter.
METRIC_ALIASES = aliases("metric")
# The number of classes: set from the data's classes for task multiclass, never by hand.
NUM_CLASS_ALIASES = aliases("num_class")

# Names the search sets itself, with what to use instead. `num_boost_round` is allowed as a grid
# axis (trials that differ only in it share one boosting run), nowhere else.
RESERVED_PARAMS: dict[str, str] = {
    **dict.fromkeys(THREAD_ALIASES, "it is spark.task.cpus"),
    **dict.fromkeys(ROUND_ALIASES, "use num_boost_round"),
    **dict.fromkeys(EARLY_STOPPING_ALIASES, "use early_stopping_rounds"),
}
GRID_ONLY_ROUNDS = "num_boost_round"
# What every trial, Dataset and refit gets unless the configuration says otherwise: a quiet
# LightGBM, and `feature_pre_filter` off (see dataset_params).
PARAM_DEFAULTS: dict[str, Any] = {"verbosity": -1, "feature_pre_filter": False}

# The categorical features' positions ("0,3"): set from the model input's category columns
# (tuning/folds.py `searched_params`), never by hand.
CATEGORICAL_PARAM = "categorical_feature"
# Parameters a run sets from its model input (never by hand): the categorical features'
# positions and the class count; best_params keeps them apart from the block to paste back.
DATA_DERIVED_PARAMS = frozenset({CATEGORICAL_PARAM, *NUM_CLASS_ALIASES})

# LightGBM parameters fixed when a Dataset is binned (LightGBM refuses to change them on a
# constructed Dataset): trials that differ in one of these need their own binary.
DATASET_PARAMS = frozenset(
    {
        "bin_construct_sample_cnt",
        CATEGORICAL_PARAM,
        "data_random_seed",
        "enable_bundle",
        "feature_pre_filter",
        "forcedbins_filename",
        "is_enable_sparse",
        "linear_tree",
        "max_bin",
        "max_bin_by_feature",
        "min_data_in_bin",
        "pre_partition",
        "two_round",
        "use_missing",
        "zero_as_missing",
    }
)


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of `metric` is better (KeyError for a metric we do not compute)."""
    return HIGHER_IS_BETTER[metric]


def validation_higher_is_better(lightgbm_metric: str) -> bool:
    """Whether a larger value of LightGBM's validation metric `lightgbm_metric` is better."""
    return lightgbm_metric.partition("@")[0] in LIGHTGBM_HIGHER_IS_BETTER


def dataset_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of LightGBM `params` that binning depends on, as used to build a Dataset.

    `feature_pre_filter` defaults to False: with it on, LightGBM drops features that cannot split
    under the first `min_child_samples` it sees, and a later trial may not lower that value.
    """
    subset = {
        name: value
        for name, value in params.items()
        if name in DATASET_PARAMS or name in PARAM_DEFAULTS
    }
    return {**PARAM_DEFAULTS, **subset}


def model_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` without the names the search sets itself (rounds, early stopping, threads)."""
    return {name: value for name, value in params.items() if name not in RESERVED_PARAMS}


def unknown_name_error(section: str, name: str) -> str | None:
    """An error line when `name` is no LightGBM parameter (LightGBM itself only warns)."""
    table = _alias_table()
    if any(name in names for names in table.values()):
        return None
    every = sorted({alias for names in table.values() for alias in names})
    # Suggest the documented names first; aliases only when no documented name is close.
    close = difflib.get_close_matches(name, sorted(table), n=2) or difflib.get_close_matches(
        name, every, n=2
    )
    hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
    return (
        f"{section}.{name} is not a LightGBM parameter ({hint}see {LIGHTGBM_PARAMS_DOC}); "
        "LightGBM would ignore it"
    )


# What _saved_params' one round sets; every other parameter it saves is at LightGBM's default.
_SET_FOR_THE_TABLE = {"verbosity": -1, "objective": "binary", "num_threads": 1}
_DATASET_SET_FOR_THE_TABLE = {"verbosity": -1, "min_data_in_bin": 1}


@functools.cache
def _saved_params() -> dict[str, Any]:
    """Canonical LightGBM parameter name -> its value, as a model LightGBM saved reads back
    (typed by the C API): one round on four rows, once per process. Parameters a model does not
    save, and list-valued ones, have no entry (LightGBM checks them itself)."""
    rows = np.arange(8, dtype=float).reshape(4, 2)
    booster = train(
        _SET_FOR_THE_TABLE,
        Dataset(rows, label=[0, 1, 0, 1], params=_DATASET_SET_FOR_THE_TABLE),
        num_boost_round=1,
    )
    return Booster(model_str=booster.model_to_string()).params


@functools.cache
def _value_kinds() -> dict[str, str]:
    """Canonical LightGBM parameter name -> the kind of value it takes: bool, number or string
    (LightGBM's own table, `_saved_params`)."""
    kinds = {bool: "bool", int: "number", float: "number", str: "string"}
    return {
        name: kinds[type(value)] for name, value in _saved_params().items() if type(value) in kinds
    }


def default_value(name: str) -> Any | None:
    """LightGBM's default of `name` (any spelling), from its own table; None when a saved model
    does not hold it."""
    for spelling in spellings(name):
        if spelling in _saved_params() and spelling not in {
            *_SET_FOR_THE_TABLE,
            *_DATASET_SET_FOR_THE_TABLE,
        }:
            return _saved_params()[spelling]
    return None


_KIND_NOUN = {"bool": "a boolean", "number": "a number", "string": "a string"}
_KIND_TEXT = {"bool": "true or false", "number": "a number", "string": "a string"}


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, int | float) else "string"


def value_type_error(section: str, name: str, value: Any) -> str | None:
    """An error line when LightGBM's parameter `name` (any spelling) cannot take `value`'s type.

    LightGBM itself would fail on the first trial with a message that names no setting
    (`learning_rate: true`: "Unknown token true in data file").
    """
    canonical = next(
        (canonical for canonical, names in _alias_table().items() if name in names), name
    )
    wanted = _value_kinds().get(canonical)
    if wanted is None or _kind_of(value) == wanted:
        return None
    return (
        f"{section}.{name} value {json.dumps(value)} is {_KIND_NOUN[_kind_of(value)]}, but LightGBM's "
        f"{canonical} takes {_KIND_TEXT[wanted]} (see {LIGHTGBM_PARAMS_DOC})"
    )


def reserved_name_error(section: str, name: str) -> str | None:
    """An error line when the search sets `name` itself (num_boost_round is allowed in the grid)."""
    if name not in RESERVED_PARAMS or (section.endswith("grid") and name == GRID_ONLY_ROUNDS):
        return None
    return f"{section}.{name} is set by the search ({RESERVED_PARAMS[name]})"
