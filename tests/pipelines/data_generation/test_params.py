"""DataGenerationParams: each bad input gives one error naming the parameter and its range; and
the row count the generated table needs for preparation's time-ordered folds."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from sklearn.model_selection import TimeSeriesSplit

from spark_lgbm_tuning.pipelines.data_generation.params import DataGenerationParams
from spark_lgbm_tuning.pipelines.preparation.folds import FoldParams, check_rows_for_folds

from .conftest import merged

# (overrides, text the error must contain: the parameter's name and the allowed range)
BAD_INPUTS = {
    "feature_fractions_over_1": (
        {"informative_fraction": 0.7, "redundant_fraction": 0.3, "repeated_fraction": 0.1},
        ["informative_fraction + redundant_fraction + repeated_fraction must be <= 1", "= 1.1"],
    ),
    "too_few_informative": (
        {"n_features": 4, "informative_fraction": 0.25},
        ["informative_fraction=0.25 of n_features=4", "must be >= 0.5"],
    ),
    # The folds are preparation's (params:preparation.folds): a stale block is named, not ignored.
    "folds_moved_to_preparation": (
        {"folds": {"n_splits": 4}},
        ["unknown key(s) ['folds']; the allowed keys are"],
    ),
    "weight_of_1": (
        {"weights": [1.0]},
        ["weights.0", "less than 1"],
    ),
    "weight_negative": (
        {"weights": [-0.2]},
        ["weights.0", "greater than 0"],
    ),
    "weights_not_summing_to_1": (
        {"weights": [0.6, 0.6]},
        ["weights", "must sum to 1"],
    ),
    "unknown_key": (
        {"n_sample": 1000},
        ["unknown key(s) ['n_sample']; the allowed keys are", "'n_samples'"],
    ),
    "unknown_nested_key": (
        {"regression": {"n_split": 3}},
        ["regression\n", "unknown key(s) ['n_split']", "'n_samples', 'n_splits', 'noise'"],
    ),
    "ar_coefficient_of_1": (
        {"time_effects": {"ar_coefficient": 1.0}},
        ["time_effects.ar_coefficient", "less than 1"],
    ),
    "bad_period": (
        {"time_effects": {"weekly_period": "weekly"}},
        ["weekly_period must be a positive pandas Timedelta"],
    ),
    "period_shorter_than_two_steps": (
        {"time_effects": {"monthly_period": "1h"}},
        ["time_effects.monthly_period='1h' must span >= 2 steps of freq='h'"],
    ),
    "bad_freq": (
        {"freq": "hourly"},
        ["freq must be a pandas offset alias"],
    ),
    "regression_too_few_rows": (
        {"regression": {"n_samples": 3, "n_splits": 4}},
        ["regression.n_samples=3 is too few rows for regression.n_splits=4"],
    ),
    "n_features_below_4": (
        {"n_features": 3},
        ["n_features", "greater than or equal to 4"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_rejected_with_a_clear_message(base_raw_params, case):
    overrides, expected = BAD_INPUTS[case]
    with pytest.raises(ValidationError) as caught:
        DataGenerationParams.model_validate(merged(base_raw_params, overrides))
    assert caught.value.error_count() == 1
    message = str(caught.value)
    for text in expected:
        assert text in message


def test_base_parameters_are_valid(make_params):
    params = make_params()
    assert (params.n_samples, params.n_features, params.regression.n_splits) == (20_000, 20, 4)
    assert params.feature_counts() == (14, 2, 1)
    assert params.regression_shape() == (20_000, 20, 4)


@pytest.mark.parametrize("n_features", [4, 5, 7, 20, 100, 1000])
def test_scaling_n_features_alone_stays_valid(make_params, n_features):
    params = make_params(n_features=n_features)
    informative, redundant, repeated = params.feature_counts()
    assert informative >= 2
    assert informative + redundant + repeated <= n_features
    assert params.regression_shape()[1:] == (n_features, max(1, n_features // 5))


# ------------------------------------------------- rows for preparation's time-ordered folds
def _sklearn_fills_every_window(n_rows: int, folds: FoldParams) -> bool:
    splitter = TimeSeriesSplit(n_splits=folds.n_splits, gap=folds.gap, test_size=folds.test_size)
    try:
        splits = list(splitter.split(np.zeros((n_rows, 1))))
    except ValueError:
        return False
    return all(len(train) >= 1 and len(test) >= 1 for train, test in splits)


@pytest.mark.parametrize(
    "folds",
    [
        {"n_splits": 4},
        {"n_splits": 4, "test_size": 10},
        {"n_splits": 3, "gap": 2},
        {"n_splits": 4, "gap": 45},
    ],
)
def test_rows_check_agrees_with_time_series_split(folds):
    """The check accepts exactly the row counts for which every fold has train and test rows."""
    fold_params = FoldParams(**folds)
    verdicts = []
    for n_rows in range(1, 400):
        try:
            check_rows_for_folds(n_rows, fold_params)
            ours = True
        except ValueError as error:
            assert f"{n_rows} rows are too few for expanding folds" in str(error)
            ours = False
        assert ours == _sklearn_fills_every_window(n_rows, fold_params), n_rows
        verdicts.append(ours)
    assert not all(verdicts)
    assert any(verdicts)


def test_rows_check_suggests_a_sufficient_count():
    folds = FoldParams(n_splits=4, gap=45)
    with pytest.raises(ValueError, match="use >= 230 rows") as caught:
        check_rows_for_folds(225, folds)
    assert "first training window would hold 0 rows" in str(caught.value)
    for n_rows in range(230, 600):
        check_rows_for_folds(n_rows, folds)
