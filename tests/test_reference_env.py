"""`--env reference` is the seed notebooks' experiment, value for value (issue: the seed's
experiments, faithfully). The values below are the seed's own calls, written out once here."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader

from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.settings import CONFIG_LOADER_ARGS

# make_classification(n_samples=300_000, n_features=100, weights=[0.6, 0.4], flip_y=0.05,
# class_sep=1.5, random_state=42): sklearn's defaults give 2 informative, 2 redundant, 0 repeated.
SEED_CLASSIFICATION_DATA = {
    "n_samples": 300_000,
    "n_features": 100,
    "weights": [0.6, 0.4],
    "flip_y": 0.05,
    "class_sep": 1.5,
    "seed": 42,
    "start": "2000-01-01 00:00:00",
    "freq": "h",
}
SEED_FEATURE_COUNTS = (2, 2, 0)
SEED_FOLDS = {"n_splits": 4, "gap": 0, "test_size": None}
# make_regression(n_samples=200_000, n_features=100, n_informative=20, random_state=42),
# KFold(4, shuffle=True, random_state=42).
SEED_REGRESSION_DATA = {"n_samples": 200_000, "n_features": 100, "seed": 42, "n_splits": 4}
SEED_CLASSIFICATION_GRID = {
    "lambda_l1": [0.3, 12, 40],
    "max_depth": [10, 15, 17],
    "colsample_bytree": [0.1, 0.3, 0.4],
    "lambda_l2": [0.01, 0.1],
}
SEED_CLASSIFICATION_FIXED = {
    "objective": "binary",
    "metric": "binary_logloss",
    "num_leaves": 2048,
    "learning_rate": 0.03,
    "max_bin": 256,
    "bagging_fraction": 1.0,
    "seed": 42,
}
SEED_REGRESSION_GRID = {
    "learning_rate": [0.01, 0.05, 0.1],
    "max_depth": [-1, 5, 9],
    "num_boost_round": [1000, 2000, 4000],
    "num_leaves": [31, 63, 127],
    "min_child_samples": [5, 20, 50],
    "subsample": [0.8, 1.0],
    "colsample_bytree": [0.8, 1.0],
}


@pytest.fixture(scope="module")
def reference_params(project_root: Path) -> dict:
    loader = OmegaConfigLoader(str(project_root / "conf"), env="reference", **CONFIG_LOADER_ARGS)
    return loader["parameters"]


def test_reference_data_is_the_seeds(reference_params):
    data = reference_params["data_generation"]
    assert {key: data[key] for key in SEED_CLASSIFICATION_DATA} == SEED_CLASSIFICATION_DATA
    counts = tuple(
        int(data["n_features"] * data[f"{kind}_fraction"])
        for kind in ("informative", "redundant", "repeated")
    )
    assert counts == SEED_FEATURE_COUNTS
    folds = reference_params["preparation"]["folds"]
    assert {key: folds[key] for key in SEED_FOLDS} == SEED_FOLDS
    assert folds["kind"] == "expanding"  # TimeSeriesSplit
    regression = data["regression"]
    assert {key: regression[key] for key in SEED_REGRESSION_DATA} == SEED_REGRESSION_DATA
    assert int(regression["n_features"] * regression["informative_fraction"]) == 20
    assert regression["noise"] == 0.0


def test_reference_classification_search_is_the_seeds(reference_params):
    tuning = reference_params["tuning"]
    # Soft-merged over base: base's axes are dropped by null, which the model applies.
    assert TuningParams.model_validate(tuning).grid == SEED_CLASSIFICATION_GRID
    assert {key: tuning["fixed"][key] for key in SEED_CLASSIFICATION_FIXED} == (
        SEED_CLASSIFICATION_FIXED
    )
    assert (tuning["num_boost_round"], tuning["early_stopping_rounds"]) == (20_000, 500)
    assert tuning["folds"] is None


def test_reference_regression_search_is_the_seeds(reference_params):
    tuning = reference_params["regression"]["tuning"]
    assert TuningParams.model_validate(tuning).grid == SEED_REGRESSION_GRID
    assert tuning["early_stopping_rounds"] in (None, 0)
    assert tuning["max_trials"] >= 3_888


def test_base_class_balance_is_the_seeds(project_root: Path):
    loader = OmegaConfigLoader(str(project_root / "conf"), **CONFIG_LOADER_ARGS)
    assert loader["parameters"]["data_generation"]["weights"] == [0.6, 0.4]


def _specs(reference_params: dict, tuning: dict, data_key: str):
    """The reference search expanded (not run) on small data of the reference's shape."""
    from spark_lgbm_tuning.pipelines.data_generation.nodes import (  # noqa: PLC0415
        generate_regression,
        generate_timeseries,
        make_regression_folds,
    )
    from spark_lgbm_tuning.pipelines.data_generation.params import (  # noqa: PLC0415
        DataGenerationParams,
    )
    from spark_lgbm_tuning.pipelines.preparation.folds import (  # noqa: PLC0415
        FoldParams,
        cut_folds,
    )
    from spark_lgbm_tuning.pipelines.tuning import search_space  # noqa: PLC0415
    from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows  # noqa: PLC0415
    from spark_lgbm_tuning.pipelines.tuning.params import TuningParams  # noqa: PLC0415
    from spark_lgbm_tuning.vocabulary.columns import ColumnParams  # noqa: PLC0415

    columns = ColumnParams.model_validate(reference_params["columns"])
    raw = {**reference_params["data_generation"], "n_samples": 2_000, "n_features": 8}
    raw["informative_fraction"] = 0.25  # 2 of 8 informative, as the seed's 2 of 100
    raw["regression"] = {**raw["regression"], "n_samples": 2_000, "n_features": 8}
    data_params = DataGenerationParams.model_validate(raw)
    if data_key == "classification":
        data = generate_timeseries(data_params, columns)
        fold_params = FoldParams.model_validate(reference_params["preparation"]["folds"])
        folds = cut_folds(data, fold_params, columns)
    else:
        data = generate_regression(data_params, columns)
        folds = make_regression_folds(data)
    params = TuningParams.model_validate(tuning)
    arrays = FoldArrays(data, fold_rows(folds, params.folds, len(data)), columns)
    search_space.check_grid_values(arrays, params)
    return search_space.expand(arrays, params)


def test_reference_classification_expands_to_the_seeds_216_trials(reference_params):
    specs = _specs(reference_params, reference_params["tuning"], "classification")

    assert len(specs) == 216
    assert len({spec.trial_id for spec in specs}) == 216
    assert len({spec.combo_id for spec in specs}) == 54
    assert sorted({spec.fold_id for spec in specs}) == [0, 1, 2, 3]
    for spec in specs:
        assert {key: spec.params[key] for key in SEED_CLASSIFICATION_FIXED} == (
            SEED_CLASSIFICATION_FIXED
        )
        assert (spec.num_boost_round, spec.early_stopping_rounds) == (20_000, 500)
    seen = {tuple(spec.grid_values[name] for name in SEED_CLASSIFICATION_GRID) for spec in specs}
    assert len(seen) == 54
    for name, values in SEED_CLASSIFICATION_GRID.items():
        assert {spec.params[name] for spec in specs} == set(values)


@pytest.mark.slow
def test_reference_regression_expands_to_3888_trials_in_1296_boosting_runs(reference_params):
    from spark_lgbm_tuning.pipelines.tuning.tasks import plan_tasks  # noqa: PLC0415

    specs = _specs(reference_params, reference_params["regression"]["tuning"], "regression")
    groups = plan_tasks(specs)

    assert len(specs) == 3_888
    assert len({spec.trial_id for spec in specs}) == 3_888
    assert len(groups) == 1_296
    # Each boosting run serves the three caps of the seed's n_estimators axis.
    assert {tuple(spec.num_boost_round for spec in group) for group in groups} == {
        (1000, 2000, 4000)
    }
    assert all("num_boost_round" not in spec.params for spec in specs)
