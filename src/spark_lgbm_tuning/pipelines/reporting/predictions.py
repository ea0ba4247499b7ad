"""Out-of-fold predictions of the best combination and its learning curves, as its trials
computed them.

Each trial returned its test part's predictions (at its best iteration) and the test part's
metric per boosting round; the search kept them for the leading combinations
(`tuning_predictions`, `tuning_learning_curves`; pipelines/tuning/predictions.py). Nothing is
fit again here: the predictions are exactly the ones the leaderboard's scores came from.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from spark_lgbm_tuning.executor.predict import PROBABILITY_PREFIX
from spark_lgbm_tuning.pipelines.tuning import predictions as kept

# A runtime import, not TYPE_CHECKING: Kedro reads the node type hints to validate params:tuning.
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.vocabulary.trial_columns import COMBO_ID

from .results import ReportingError, require_rows

logger = logging.getLogger(__name__)

# The report's frames: the search's kept ones, of one combination.
PREDICTION_COLUMNS = [column for column in kept.PREDICTION_COLUMNS if column != COMBO_ID]
CURVE_COLUMNS = [column for column in kept.CURVE_COLUMNS if column != COMBO_ID]


def _best_combo(best_params: dict[str, Any]) -> str:
    try:
        return str(best_params["selection"][COMBO_ID])
    except (KeyError, TypeError) as error:
        raise ReportingError(f"best_params lacks selection.combo_id ({error!r}).") from error


def _class_columns(frame: pd.DataFrame, input_encoding: dict[str, Any] | None) -> dict[str, str]:
    """`probability_<k>` -> `probability_<label of class k>` (class numbers without labels)."""
    classes = (input_encoding or {}).get("classes") or []
    numbered = [column for column in frame.columns if column.startswith(PROBABILITY_PREFIX)]
    if classes and len(classes) != len(numbered):
        raise ReportingError(
            f"tuning_predictions hold {len(numbered)} class probabilities but input_encoding "
            f"names {len(classes)} classes: the model input was prepared again after the "
            "search; rerun the tuning pipeline before reporting."
        )
    return {
        f"{PROBABILITY_PREFIX}{k}": f"{PROBABILITY_PREFIX}{str(label)}"
        for k, label in enumerate(classes)
    }


def select_test_predictions(
    best_params: dict[str, Any],
    tuning_predictions: pd.DataFrame,
    tuning_learning_curves: pd.DataFrame,
    tuning_params: TuningParams,
    input_encoding: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The best combination's out-of-fold predictions and learning curves, from its trials.

    Returns `test_predictions`, one row per (fold_id, row) of the test parts of its ok folds:
    `actual`, `predicted` (P(class 1) for classification; multiclass: the most probable class,
    and `probability_<label>` per class, named by `input_encoding`'s classes) and, for
    regression, `residual` (actual - predicted); and `learning_curves`: the test part's metric
    per round and fold (none when the search boosted fixed rounds, which evaluate no metric
    while boosting).
    """
    combo_id = _best_combo(best_params)
    require_rows(tuning_predictions, "tuning_predictions", tuple(kept.PREDICTION_COLUMNS))
    predictions = tuning_predictions[tuning_predictions[COMBO_ID] == combo_id]
    if predictions.empty:
        raise ReportingError(
            f"tuning_predictions holds no predictions of the best combination {combo_id!r}: "
            "they come from another search; rerun the tuning pipeline before reporting."
        )
    frame = predictions.drop(columns=COMBO_ID).sort_values(["fold_id", "row"])
    frame = frame.reset_index(drop=True)
    if tuning_params.task == "multiclass":
        frame = frame.rename(columns=_class_columns(frame, input_encoding))
    if tuning_params.task == "regression":
        frame["residual"] = frame["actual"] - frame["predicted"]
    curves = tuning_learning_curves[tuning_learning_curves[COMBO_ID] == combo_id]
    curves = curves[CURVE_COLUMNS].reset_index(drop=True)
    logger.info(
        "Out-of-fold predictions of the best combination: %d test rows of %d folds, from its "
        "trials",
        len(frame),
        frame["fold_id"].nunique(),
    )
    return frame, curves
