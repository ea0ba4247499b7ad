"""The data_generation nodes: generators (shapes, dtypes, seeds, effects) and regression folds;
preparation's time-ordered folds and their summary on the generated data."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from spark_lgbm_tuning.pipelines.data_generation.nodes import (
    add_time_effects,
    generate_regression,
    generate_timeseries,
    make_regression_folds,
)
from spark_lgbm_tuning.pipelines.data_generation.params import (
    DataGenerationParams,
    TimeEffectsParams,
)
from spark_lgbm_tuning.pipelines.preparation.folds import FoldParams, cut_folds, summarise_folds

from .conftest import COLUMNS, RENAMED, merged


@pytest.fixture(scope="module")
def base_params(base_raw_params) -> DataGenerationParams:
    return DataGenerationParams.model_validate(base_raw_params)


@pytest.fixture(scope="module")
def timeseries(base_params) -> pd.DataFrame:
    """The default dataset: 20k hourly rows x 20 features."""
    return generate_timeseries(base_params, COLUMNS)


def _columns_with(frame: pd.DataFrame, effect_index: int) -> list[str]:
    """The features that carry effect `effect_index` (feature_<i>, i % 4 == effect_index).

    Never empty: a test looping over them must not pass because no column matched.
    """
    prefix = COLUMNS.feature_prefix
    columns = [
        c
        for c in frame.columns
        if c.startswith(prefix) and int(c.removeprefix(prefix)) % 4 == effect_index
    ]
    assert columns, f"no {prefix}<i> column with i % 4 == {effect_index} in {list(frame.columns)}"
    return columns


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
    frame = generate_timeseries(
        make_params(n_samples=200, start="2024-03-01 06:00", freq="15min"), COLUMNS
    )
    assert frame["date"].iloc[0] == pd.Timestamp("2024-03-01 06:00")
    assert frame["date"].iloc[-1] == pd.Timestamp("2024-03-01 06:00") + 199 * pd.Timedelta("15min")


def test_timeseries_is_deterministic_for_a_seed(make_params, timeseries):
    pd.testing.assert_frame_equal(generate_timeseries(make_params(), COLUMNS), timeseries)
    other = generate_timeseries(make_params(seed=7), COLUMNS)
    assert not np.allclose(other["feature_5"], timeseries["feature_5"])


def test_positive_ratio_follows_weights_and_label_noise(make_params):
    for weights, flip_y in (([0.8], 0.05), ([0.6, 0.4], 0.0), ([0.95], 0.1)):
        frame = generate_timeseries(make_params(weights=weights, flip_y=flip_y), COLUMNS)
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
            DataGenerationParams.model_validate(
                merged(base_raw_params, {"repeated_fraction": 0.5})
            ),
            COLUMNS,
        )


def test_regression_shape_dtypes_and_folds(make_params):
    frame = generate_regression(make_params(n_samples=2_001, n_features=30), COLUMNS)
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
        make_params(n_samples=3_000, regression={"n_features": 10, "informative_fraction": 0.3}),
        COLUMNS,
    )
    x = frame.filter(like="feature_").to_numpy(float)
    coefficients, residuals, *_ = np.linalg.lstsq(
        np.column_stack([x, np.ones(len(x))]), frame["target"], rcond=None
    )
    # noise 0: the target is exactly linear in 3 informative features.
    assert np.count_nonzero(np.abs(coefficients[:10]) > 1e-3) == 3
    assert residuals[0] / len(x) < 1e-6


def test_regression_is_deterministic_for_its_seed(make_params):
    first = generate_regression(make_params(n_samples=500), COLUMNS)
    pd.testing.assert_frame_equal(first, generate_regression(make_params(n_samples=500), COLUMNS))
    other = generate_regression(make_params(n_samples=500, regression={"seed": 1}), COLUMNS)
    assert not np.array_equal(other["fold_id"], first["fold_id"])


def test_regression_node_rejects_bad_params(base_raw_params):
    """generate_regression's error path: its typed input refuses the bad value."""
    with pytest.raises(ValidationError, match=r"regression\.n_splits"):
        DataGenerationParams.model_validate(
            merged(base_raw_params, {"regression": {"n_splits": 1}})
        )


# ------------------------------------------------------------------------------------ folds
def _rows(folds: pd.DataFrame, fold_id: int, split: str) -> np.ndarray:
    return folds.loc[(folds["fold_id"] == fold_id) & (folds["split"] == split), "row"].to_numpy()


@pytest.mark.parametrize(
    ("n_samples", "folds", "test_size"),
    [
        (1_003, {"n_splits": 4}, 1_003 // 5),
        (500, {"n_splits": 3, "gap": 24, "test_size": 100}, 100),
        (777, {"n_splits": 5, "gap": 7}, 777 // 6),
        (60, {"n_splits": 2, "test_size": 1}, 1),
    ],
)
def test_timeseries_folds_expand_in_time_order(make_params, n_samples, folds, test_size):
    data = generate_timeseries(make_params(n_samples=n_samples, n_features=4), COLUMNS)
    fold_params = FoldParams(**folds)
    table = cut_folds(data, fold_params, COLUMNS)

    assert list(table.columns) == ["fold_id", "split", "row"]
    assert table.dtypes.to_dict() == {
        "fold_id": np.dtype("int32"),
        "split": np.dtype("O"),
        "row": np.dtype("int64"),
    }
    n_splits, gap = fold_params.n_splits, fold_params.gap
    assert sorted(table["fold_id"].unique()) == list(range(n_splits))
    assert set(table["split"]) == {"train", "test"}
    dates = data["date"].to_numpy()
    previous_train = np.array([], dtype=np.int64)
    for k in range(n_splits):
        train, test = _rows(table, k, "train"), _rows(table, k, "test")
        # Sizes as specified: fixed test windows, the train window grows by one test window.
        assert len(test) == test_size
        assert len(train) == n_samples - gap - (n_splits - k) * test_size
        # Contiguous windows, gap rows apart, every train timestamp before every test one.
        np.testing.assert_array_equal(train, np.arange(len(train)))
        np.testing.assert_array_equal(test, np.arange(test[0], test[0] + test_size))
        assert test[0] - train[-1] - 1 == gap
        assert dates[train].max() < dates[test].min()
        # Expanding: each fold's train set contains the previous one.
        assert np.isin(previous_train, train).all() and len(train) > len(previous_train)
        previous_train = train
    # The test windows tile the end of the data.
    tests = np.concatenate([_rows(table, k, "test") for k in range(n_splits)])
    np.testing.assert_array_equal(tests, np.arange(n_samples - n_splits * test_size, n_samples))


def test_regression_folds_hold_out_each_fold_id(make_params):
    data = generate_regression(make_params(n_samples=1_001, n_features=5), COLUMNS)
    table = make_regression_folds(data)
    assert table.dtypes.to_dict() == {
        "fold_id": np.dtype("int32"),
        "split": np.dtype("O"),
        "row": np.dtype("int64"),
    }
    assert len(table) == 4 * len(data)
    all_rows = np.arange(len(data))
    for k in range(4):
        test, train = _rows(table, k, "test"), _rows(table, k, "train")
        np.testing.assert_array_equal(test, np.flatnonzero(data["fold_id"] == k))
        np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), all_rows)
    # Every row is tested exactly once.
    tested = table.loc[table["split"] == "test", "row"]
    assert tested.is_unique and len(tested) == len(data)


def test_regression_folds_need_every_fold_id():
    frame = pd.DataFrame({"target": np.zeros(6), "fold_id": np.array([0, 0, 2, 2, 3, 3])})
    with pytest.raises(ValueError, match="every id 0..k-1"):
        make_regression_folds(frame)
    with pytest.raises(ValueError, match="no `fold_id` column"):
        make_regression_folds(frame.drop(columns="fold_id"))


def test_summarise_folds_matches_the_rows(make_params):
    data = generate_timeseries(make_params(n_samples=2_000, n_features=8), COLUMNS)
    table = cut_folds(data, FoldParams(n_splits=3, gap=10), COLUMNS)
    summary = summarise_folds(data, table, COLUMNS)

    assert summary[["fold_id", "split"]].to_dict("split")["data"] == [
        [fold_id, split] for fold_id in range(3) for split in ("train", "test")
    ]
    for part in summary.itertuples():
        rows = _rows(table, part.fold_id, part.split)
        chosen = data.iloc[rows]
        assert (part.n_rows, part.first_row, part.last_row, part.runs) == (
            len(rows),
            rows[0],
            rows[-1],
            1,
        )
        assert (part.start, part.end) == (chosen["date"].min(), chosen["date"].max())
        assert part.positives == chosen["target"].sum()
        assert part.positive_ratio == pytest.approx(chosen["target"].mean())
    train, test = (summary[summary["split"] == split].reset_index() for split in ("train", "test"))
    assert (train["end"] + 11 * pd.Timedelta("1h") == test["start"]).all()  # the 10-row gap
    assert train["n_rows"].is_monotonic_increasing


def test_summarise_folds_refuses_rows_outside_the_data(make_params):
    data = generate_timeseries(make_params(n_samples=100, n_features=4), COLUMNS)
    table = cut_folds(data, FoldParams(), COLUMNS)
    # The fold table's checks are tuning/folds.py's (one place), messages included.
    with pytest.raises(ValueError, match=r"must lie in 0..49 \(the data has 50 rows\)"):
        summarise_folds(data.iloc[:50], table, COLUMNS)
    with pytest.raises(ValueError, match="0 test rows; both parts must be non-empty"):
        summarise_folds(data, table.assign(split="train"), COLUMNS)
    with pytest.raises(ValueError, match=r"no column 'target' \(columns.target\)"):
        summarise_folds(data.drop(columns="target"), table, COLUMNS)
    with pytest.raises(ValueError, match="The fold table is empty"):
        summarise_folds(data, table.iloc[:0], COLUMNS)


# ---------------------------------------------------------------------------- column names
def test_every_node_writes_and_reads_the_columns_setting(make_params):
    """params:columns renames target, features and time; the values stay those of the seed."""
    params = make_params(n_samples=500, n_features=4)
    default = generate_timeseries(params, COLUMNS)
    renamed = generate_timeseries(params, RENAMED)
    assert list(renamed.columns) == ["ts", "x_0", "x_1", "x_2", "x_3", "label"]
    pd.testing.assert_frame_equal(
        renamed,
        default.rename(columns=lambda c: {"date": "ts", "target": "label"}.get(c, "x" + c[7:])),
    )
    # preparation's folds and summary of the generated data follow the setting too.
    table = cut_folds(renamed, FoldParams(), RENAMED)
    pd.testing.assert_frame_equal(table, cut_folds(default, FoldParams(), COLUMNS))
    pd.testing.assert_frame_equal(
        summarise_folds(renamed, table, RENAMED), summarise_folds(default, table, COLUMNS)
    )
    # With the default names, the renamed data has neither a time nor a target column.
    with pytest.raises(ValueError, match=r"no column 'date' \(columns.time\)"):
        cut_folds(renamed, FoldParams(), COLUMNS)
    with pytest.raises(ValueError, match=r"no column 'target' \(columns.target\)"):
        summarise_folds(renamed, table, COLUMNS)

    regression = generate_regression(params, RENAMED)
    assert list(regression.columns) == ["x_0", "x_1", "x_2", "x_3", "label", "fold_id"]


# Content hashes of the default-seed data at a small size, recorded before the restructure
# (commit 3d19108): the same parameters must keep giving the same bytes. A numpy or
# scikit-learn upgrade that changes their random streams also changes these.
PINNED = {
    "timeseries": "2ed7bf245c005a396b9d08625a9e7bbaf0fce31c71b27d43f1a3f34cd96bfdb5",
    "regression": "e70ca27494077705ae480f944865367452da63f8606fad994996c0f2e697377f",
}


def _content_hash(frame: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy()).hexdigest()


def test_the_default_seed_gives_the_recorded_data(make_params):
    # The class balance the data was recorded with (conf/base now has the seed's 0.6/0.4).
    params = make_params(n_samples=1_000, n_features=8, weights=[0.8])
    assert _content_hash(generate_timeseries(params, COLUMNS)) == PINNED["timeseries"]
    assert _content_hash(generate_regression(params, COLUMNS)) == PINNED["regression"]
