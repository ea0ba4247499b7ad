"""`params:reporting` as one typed model; Kedro validates it before any node runs.

What to rank by is not here: it is `tuning.primary_metric` (TuningParams), the setting the search
itself ranks by. Column names are not here either: they are `params:columns` (ColumnParams).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from spark_lgbm_tuning.vocabulary.lightgbm_params import CLASSIFICATION_THRESHOLD
from spark_lgbm_tuning.vocabulary.params_model import ParamsModel


class ReportingParams(ParamsModel):
    """`params:reporting` (parameters_reporting.yml): ranking ties, the refit, what to show."""

    # Means equal at this many decimals tie (then fewer failed folds, lower std, combo_id).
    tie_decimals: int = Field(10, ge=1, le=15)
    top_n: int = Field(10, ge=1, le=500)
    top_n_plot: int = Field(5, ge=1, le=20)
    top_n_features: int = Field(20, ge=1, le=200)
    # The refit's rounds: this aggregate of the winner's best_iteration over its ok folds.
    rounds_aggregate: Literal["median", "mean", "max"] = "median"
    # Where the refit runs (refit.py): auto (an executor of the run's cluster, else the driver),
    # driver, or executor (any classic session of the run).
    refit_on: Literal["auto", "driver", "executor"] = "auto"
    # Threads for the refit; 0: LightGBM's default (every core of the host it runs on).
    refit_num_threads: int = Field(0, ge=0, le=1024)
    max_error_chars: int = Field(2000, ge=80, le=20_000)
    # The confusion matrix's P(class 1) cut-off; the trials' own metrics use the default 0.5.
    threshold: float = Field(CLASSIFICATION_THRESHOLD, gt=0, lt=1)
    # Equal-width probability bins of the calibration plot.
    calibration_bins: int = Field(10, ge=2, le=100)
    title: str = "LightGBM tuning report"
