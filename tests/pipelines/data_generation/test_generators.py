"""generate_timeseries / generate_regression / add_time_effects: shapes, dtypes, seeds, effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from spark_lgbm_tuning.pipelines.data_generation.nodes import (
    DataGenerationParams,
    TimeEffectsParams,
    add_time_effects,
    generate_regression,
    generate_timeseries,
)

from .conftest import merged


@pytest.fixture(scope="module")
def base_params(base_raw_params) -> DataGenerationParams:
    return DataGenerationParams.model_validate(base_raw_params)


@pytest.fixture(scope="module")
def timeseries(base_params) -> pd.DataFrame:
    """The default dataset: 20k hourly rows x 20 features."""
    return generate_timeseries(base_params)


def _columns_with(frame: pd.DataFrame, effect_index: int) -> list[str]:
    return [c for c in frame.columns if c.startswith("feature_") and int(c[8:]) % 4 == effect_index]


def _sine_amplitude(values: np.ndarray, elapsed_hours: np.ndarray, period_hours: float) -> float:
    """Least-squares amplitude of the sine with this period: its periodogram ordinate."""
    angle = 2 * np.pi * elapsed_hours / period_hours
    design = np.column_stack([np.ones_like(angle), np.sin(angle), np.cos(angle)])
    _, sin_coef, cos_coef = np.linalg.lstsq(design, values, rcond=None)[0]
    return float(np.hypot(sin_coef, cos_coef))


def test_timeseries_shape_columns_and_dtypes(timeseries, base_params):
    assert timeseries.shape == (20_000, 22)
    assert list(timeseries.columns) == ["date", *[f"feature_{i}" for i in range(20)], "target"]
    assert timeseries["date"].dtype == "datetime64[us]"
    assert set(timeseries.filter(like="feature_").dtypes) == {np.dtype("float32")}
    assert timeseries["target"].dtype == np.int32
    assert set(np.unique(timeseries["target"])) == {0, 1}
    assert timeseries.index.equals(pd.RangeIndex(20_000))


def test_timeseries_rows_are_hourly_from_start(timeseries, base_params):
    dates = timeseries["date"]
    assert dates.iloc[0] == pd.Timestamp("2000-01-01 00:00:00")
    assert dates.is_monotonic_increasing
    assert (dates.diff().iloc[1:] == pd.Timedelta("1h")).all()


def test_timeseries_start_and_freq_are_parameters(make_params):
    frame = generate_timeseries(make_params(n_samples=200, start="2024-03-01 06:00", freq="15min"))
    assert frame["date"].iloc[0] == pd.Timestamp("2024-03-01 06:00")
    assert frame["date"].iloc[-1] == pd.Timestamp("2024-03-01 06:00") + 199 * pd.Timedelta("15min")


def test_timeseries_is_deterministic_for_a_seed(make_params, timeseries):
    pd.testing.assert_frame_equal(generate_timeseries(make_params()), timeseries)
    other = generate_timeseries(make_params(seed=7))
    assert not np.allclose(other["feature_5"], timeseries["feature_5"])


def test_positive_ratio_follows_weights_and_label_noise(make_params):
    for weights, flip_y in (([0.8], 0.05), ([0.6, 0.4], 0.0), ([0.95], 0.1)):
        frame = generate_timeseries(make_params(weights=weights, flip_y=flip_y))
        # flip_y relabels that share of rows uniformly at random: half of them become positive.
        expected = (1 - weights[0]) * (1 - flip_y) + flip_y / 2
        assert frame["target"].mean() == pytest.approx(expected, abs=0.015)


def test_trend_columns_have_the_slope(timeseries, base_params):
    steps = np.arange(len(timeseries))
    slope = base_params.time_effects.trend_slope
    for column in _columns_with(timeseries, 0):
        assert np.polyfit(steps, timeseries[column], 1)[0] == pytest.approx(slope, abs=1e-4)
    for column in _columns_with(timeseries, 1):
        assert abs(np.polyfit(steps, timeseries[column], 1)[0]) < 1e-4


def test_weekly_and_monthly_components_are_detectable(timeseries, base_params):
    effects = base_params.time_effects
    hours = np.arange(len(timeseries), dtype=float)  # hourly rows
    week, month = 7 * 24.0, 30 * 24.0

    def mean_amplitude(effect_index: int, period: float) -> float:
        columns = _columns_with(timeseries, effect_index)
        return np.mean(
            [_sine_amplitude(timeseries[c].to_numpy(float), hours, period) for c in columns]
        )

    assert mean_amplitude(1, week) == pytest.approx(effects.weekly_amplitude, abs=0.08)
    assert mean_amplitude(2, month) == pytest.approx(effects.monthly_amplitude, abs=0.08)
    # Each seasonality sits on its own features only.
    assert mean_amplitude(1, month) < 0.08
    assert mean_amplitude(2, week) < 0.08


def test_ar_columns_have_lag1_autocorrelation_of_the_coefficient(timeseries, base_params):
    coefficient = base_params.time_effects.ar_coefficient
    for column in _columns_with(timeseries, 3):
        values = timeseries[column].to_numpy(float)
        assert np.corrcoef(values[:-1], values[1:])[0, 1] == pytest.approx(coefficient, abs=0.03)
    # Rows are independent before the AR filter; the weekly sine alone adds a little
    # autocorrelation, far below the AR coefficient.
    for column in _columns_with(timeseries, 1):
        values = timeseries[column].to_numpy(float)
        assert abs(np.corrcoef(values[:-1], values[1:])[0, 1]) < 0.15


def test_add_time_effects_adds_exactly_each_effect():
    dates = pd.date_range("2000-01-01", periods=500, freq="h", unit="us")
    effects = TimeEffectsParams(
        trend_slope=0.01,
        weekly_amplitude=2.0,
        weekly_period="7D",
        monthly_amplitude=3.0,
        monthly_period="30D",
        ar_coefficient=0.5,
    )
    features = np.zeros((500, 8), dtype=np.float32, order="F")
    features[0, 3] = 1.0  # an impulse: the AR(1) filter answers with x[0] * a**t
    add_time_effects(features, dates, effects)
    hours = np.arange(500)
    for column in (0, 4):
        np.testing.assert_allclose(features[:, column], 0.01 * hours, rtol=1e-5, atol=1e-6)
    for column in (1, 5):
        np.testing.assert_allclose(
            features[:, column], 2.0 * np.sin(2 * np.pi * hours / 168), atol=1e-5
        )
    for column in (2, 6):
        np.testing.assert_allclose(
            features[:, column], 3.0 * np.sin(2 * np.pi * hours / 720), atol=1e-5
        )
    np.testing.assert_allclose(features[:, 3], 0.5**hours, atol=1e-7)
    np.testing.assert_array_equal(features[:, 7], 0.0)


def test_add_time_effects_rejects_mismatched_dates():
    effects = TimeEffectsParams(
        trend_slope=0,
        weekly_amplitude=0,
        weekly_period="7D",
        monthly_amplitude=0,
        monthly_period="30D",
        ar_coefficient=0,
    )
    with pytest.raises(ValueError, match="10 feature rows but 9 dates"):
        add_time_effects(np.zeros((10, 4), np.float32), pd.date_range("2000", periods=9), effects)


def test_timeseries_node_rejects_bad_params_before_generating(base_raw_params):
    """generate_timeseries' error path: its typed input refuses the bad value."""
    with pytest.raises(ValidationError, match="informative_fraction"):
        generate_timeseries(
            DataGenerationParams.model_validate(merged(base_raw_params, {"repeated_fraction": 0.5}))
        )


def test_regression_shape_dtypes_and_folds(make_params):
    frame = generate_regression(make_params(n_samples=2_001, n_features=30))
    assert frame.shape == (2_001, 32)
    assert list(frame.columns) == [*[f"feature_{i}" for i in range(30)], "target", "fold_id"]
    assert set(frame.filter(like="feature_").dtypes) == {np.dtype("float32")}
    assert frame["target"].dtype == np.float64
    assert frame["fold_id"].dtype == np.int32
    sizes = frame["fold_id"].value_counts().sort_index()
    assert list(sizes.index) == [0, 1, 2, 3]
    assert sizes.max() - sizes.min() <= 1
    # Shuffled: fold ids are not in blocks of consecutive rows.
    assert (frame["fold_id"].diff().fillna(0) != 0).mean() > 0.5


def test_regression_informative_features_and_noise(make_params):
    frame = generate_regression(
        make_params(n_samples=3_000, regression={"n_features": 10, "informative_fraction": 0.3})
    )
    x = frame.filter(like="feature_").to_numpy(float)
    coefficients, residuals, *_ = np.linalg.lstsq(
        np.column_stack([x, np.ones(len(x))]), frame["target"], rcond=None
    )
    # noise 0: the target is exactly linear in 3 informative features.
    assert np.count_nonzero(np.abs(coefficients[:10]) > 1e-3) == 3
    assert residuals[0] / len(x) < 1e-6


def test_regression_is_deterministic_for_its_seed(make_params):
    first = generate_regression(make_params(n_samples=500))
    pd.testing.assert_frame_equal(first, generate_regression(make_params(n_samples=500)))
    other = generate_regression(make_params(n_samples=500, regression={"seed": 1}))
    assert not np.array_equal(other["fold_id"], first["fold_id"])


def test_regression_node_rejects_bad_params(base_raw_params):
    """generate_regression's error path: its typed input refuses the bad value."""
    with pytest.raises(ValidationError, match=r"regression\.n_splits"):
        DataGenerationParams.model_validate(
            merged(base_raw_params, {"regression": {"n_splits": 1}})
        )
