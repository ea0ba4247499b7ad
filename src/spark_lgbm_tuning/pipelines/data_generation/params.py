"""`params:data_generation` as one typed model; Kedro validates it before any node runs.

Sizes, class balance, time axis, time effects and folds of the generated data. Column names are
not here: they are `params:columns` (spark_lgbm_tuning.vocabulary.columns), shared with every pipeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

import numpy as np
import pandas as pd
from pydantic import Field, ValidationInfo, field_validator, model_validator

from spark_lgbm_tuning.vocabulary.params_model import ParamsModel

# make_classification's default: 2 classes x 2 clusters need 2 ** n_informative >= 4.
_MIN_INFORMATIVE = 2


class TimeEffectsParams(ParamsModel):
    """The four time effects; feature i gets effect i % 4 (trend, weekly, monthly, AR(1))."""

    trend_slope: float = Field(allow_inf_nan=False, description="added per row (per `freq` step)")
    weekly_amplitude: float = Field(ge=0, allow_inf_nan=False)
    weekly_period: str = Field(description="a pandas Timedelta string, e.g. '7D'")
    monthly_amplitude: float = Field(ge=0, allow_inf_nan=False)
    monthly_period: str = Field(description="a pandas Timedelta string, e.g. '30D'")
    ar_coefficient: float = Field(ge=0, lt=1, description="x[t] = a*x[t-1] + (1-a)*noise[t]")

    @field_validator("weekly_period", "monthly_period")
    @classmethod
    def _positive_duration(cls, value: str, info: ValidationInfo) -> str:
        try:
            period = pd.Timedelta(value)
        except ValueError as error:
            raise ValueError(
                f"{info.field_name} must be a positive pandas Timedelta such as '7D' or "
                f"'168h'; got {value!r} ({error})"
            ) from error
        if period <= pd.Timedelta(0):
            raise ValueError(f"{info.field_name} must be > 0 (e.g. '7D'); got {value!r}")
        return value


class RegressionParams(ParamsModel):
    """sklearn make_regression data with a shuffled KFold `fold_id` column."""

    n_samples: int | None = Field(
        default=None, ge=2, description="null: the same as data_generation.n_samples"
    )
    n_features: int | None = Field(
        default=None, ge=1, description="null: the same as data_generation.n_features"
    )
    informative_fraction: float = Field(gt=0, le=1)
    noise: float = Field(ge=0, allow_inf_nan=False)
    seed: int = Field(ge=0, lt=2**32)
    n_splits: int = Field(ge=2, le=100)


class DataGenerationParams(ParamsModel):
    """`params:data_generation`: sizes, class balance, time axis, time effects and folds."""

    # Too few rows for the folds is refused by check_rows_for_folds, with the count needed.
    n_samples: int = Field(ge=1, le=50_000_000)
    n_features: int = Field(ge=4, le=10_000, description="at least one feature per time effect")
    seed: int = Field(ge=0, lt=2**32)
    start: datetime
    freq: str = Field(description="a pandas offset alias, e.g. 'h' (hourly)")
    # Fractions of n_features (as the reference notebook does), so that scaling n_features
    # alone keeps a valid make_classification call.
    informative_fraction: float = Field(gt=0, le=1)
    redundant_fraction: float = Field(ge=0, le=1)
    repeated_fraction: float = Field(ge=0, le=1)
    class_sep: float = Field(gt=0, allow_inf_nan=False)
    flip_y: float = Field(ge=0, lt=1, description="fraction of labels assigned at random")
    # Each a class's share, in (0, 1); two of them must sum to 1.
    weights: list[Annotated[float, Field(gt=0, lt=1)]] = Field(
        min_length=1, max_length=2, description="class proportions: [0.8] -> 20% positives"
    )
    time_effects: TimeEffectsParams
    regression: RegressionParams

    @field_validator("freq")
    @classmethod
    def _known_frequency(cls, value: str) -> str:
        try:
            pd.tseries.frequencies.to_offset(value)
        except ValueError as error:
            raise ValueError(
                f"freq must be a pandas offset alias such as 'h', '15min' or 'D'; got {value!r}"
            ) from error
        return value

    @field_validator("weights")
    @classmethod
    def _weights_sum_to_1(cls, value: list[float]) -> list[float]:
        if len(value) == 2 and not np.isclose(sum(value), 1.0):
            raise ValueError(f"weights for both classes must sum to 1; got {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        self._check_feature_fractions()
        freq = pd.tseries.frequencies.to_offset(self.freq)
        effects = self.time_effects
        if isinstance(freq, pd.offsets.Tick):  # fixed-length steps: check the Nyquist limit
            for name in ("weekly_period", "monthly_period"):
                if pd.Timedelta(getattr(effects, name)) < 2 * pd.Timedelta(freq):
                    raise ValueError(
                        f"time_effects.{name}={getattr(effects, name)!r} must span >= 2 steps "
                        f"of freq={self.freq!r} to be visible in the data"
                    )
        reg_samples = self.regression_shape()[0]
        if reg_samples < self.regression.n_splits:
            raise ValueError(
                f"regression.n_samples={reg_samples} is too few rows for regression.n_splits="
                f"{self.regression.n_splits}: need n_samples >= n_splits"
            )
        return self

    def _check_feature_fractions(self) -> None:
        fractions = self.informative_fraction + self.redundant_fraction + self.repeated_fraction
        if fractions > 1 + 1e-9:
            raise ValueError(
                "informative_fraction + redundant_fraction + repeated_fraction must be <= 1 "
                f"(they share the n_features columns); got {self.informative_fraction} + "
                f"{self.redundant_fraction} + {self.repeated_fraction} = {fractions:g}"
            )
        n_informative = self.feature_counts()[0]
        if n_informative < _MIN_INFORMATIVE:
            raise ValueError(
                f"informative_fraction={self.informative_fraction} of n_features="
                f"{self.n_features} gives {n_informative} informative feature(s); "
                f"make_classification needs >= {_MIN_INFORMATIVE}, so informative_fraction "
                f"must be >= {_MIN_INFORMATIVE / self.n_features:g}"
            )

    def feature_counts(self) -> tuple[int, int, int]:
        """(informative, redundant, repeated) feature counts for make_classification."""
        return (
            int(self.n_features * self.informative_fraction),
            int(self.n_features * self.redundant_fraction),
            int(self.n_features * self.repeated_fraction),
        )

    def regression_shape(self) -> tuple[int, int, int]:
        """(rows, features, informative features) of the regression data.

        Null sizes follow the top-level ones; at least one feature is informative, so that
        scaling n_features down alone stays valid.
        """
        reg = self.regression
        n_features = reg.n_features or self.n_features
        n_informative = max(1, int(n_features * reg.informative_fraction))
        return (reg.n_samples or self.n_samples, n_features, n_informative)
