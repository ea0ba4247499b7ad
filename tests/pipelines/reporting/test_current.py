"""check_results_are_current, reporting's first node: the search's four outputs of one run,
of the current parameters, data and folds; each other set refused in one line with its fix."""

from __future__ import annotations

import json
import re
import subprocess

import pandas as pd
import pytest

from spark_lgbm_tuning.pipelines.reporting.current import check_results_are_current
from spark_lgbm_tuning.pipelines.reporting.results import ReportingError
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows
from spark_lgbm_tuning.pipelines.tuning.nodes import expand_search_space
from spark_lgbm_tuning.pipelines.tuning.params import RUN_INFO_SEARCH
from spark_lgbm_tuning.pipelines.tuning.predictions import CURVE_COLUMNS, PREDICTION_COLUMNS
from spark_lgbm_tuning.pipelines.tuning.search_space import fold_facts
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from spark_lgbm_tuning.vocabulary.search_id import SEARCH_ID
from tests.cluster import kedro_run
from tests.pipelines.tuning import data as tuning_data
from tests.project_copy import copy_project

from .conftest import one_search

# The check reads the predictions' and curves' search id only: empty tables of their columns.
PREDICTIONS = pd.DataFrame(columns=PREDICTION_COLUMNS)
CURVES = pd.DataFrame(columns=CURVE_COLUMNS)


# --------------------------------------------------------------------------- stale results
@pytest.fixture
def searched():
    """Data, folds, the trials expanded from them and result rows of those trials."""
    data = tuning_data.model_input()
    folds = tuning_data.time_folds(data)
    trials = expand_search_space(data, folds, tuning_data.tuning_params(), ColumnParams())
    results = trials[["trial_id", "combo_id", "fold_id", "fold_fingerprint"]].assign(status="ok")
    return data, folds, results


def _check(results, data, folds, params=None, *, searched_with=None, **kwargs):
    """check_results_are_current with `params` (default: the fixtures'), on results whose run
    info records a search with `searched_with` (default: `params`), written by one run."""
    params = params or tuning_data.tuning_params()
    run_info = {RUN_INFO_SEARCH: (searched_with or params).search_description()}
    run_info, results, predictions, curves = one_search(run_info, results, PREDICTIONS, CURVES)
    return check_results_are_current(
        results, run_info, predictions, curves, data, folds, params, ColumnParams(), **kwargs
    )


def test_results_of_the_current_data_pass_unchanged(searched):
    data, folds, results = searched
    checked = _check(results, data, folds)
    pd.testing.assert_frame_equal(checked, results)


def test_results_of_other_data_are_refused_naming_the_fold(searched):
    data, folds, results = searched
    changed = data.copy()
    # One value in the last fold's test part: only that fold's fingerprint changes.
    last_fold = int(folds["fold_id"].max())
    row = int(folds[(folds["fold_id"] == last_fold) & (folds["split"] == "test")]["row"].iloc[0])
    changed.loc[row, "feature_0"] += 1.0
    with pytest.raises(ReportingError, match=rf"fold {last_fold} were computed on other data"):
        _check(results, changed, folds)


def test_results_without_fingerprints_are_refused(searched):
    data, folds, results = searched
    with pytest.raises(ReportingError, match=r"lack fold_fingerprint values"):
        _check(results.drop(columns="fold_fingerprint"), data, folds)
    missing = results.assign(fold_fingerprint=[None] + list(results["fold_fingerprint"][1:]))
    with pytest.raises(ReportingError, match=r"lack fold_fingerprint values"):
        _check(missing, data, folds)


def test_results_of_other_folds_are_refused(searched):
    data, folds, results = searched
    with pytest.raises(ReportingError, match=r"do not fit the current data and folds"):
        _check(results, data.head(10), folds)


def test_results_of_a_search_with_other_parameters_are_refused_naming_the_change(searched):
    """The report of `--params "tuning.grid.num_leaves=[7]"` after a search of [7, 15] would
    show num_leaves 7 as the searched space and rank 7 and 15."""
    data, folds, results = searched
    now = tuning_data.tuning_params(grid={"num_leaves": [7], "learning_rate": [0.1]})

    with pytest.raises(ReportingError) as error:
        _check(results, data, folds, params=now, searched_with=tuning_data.tuning_params())

    message = str(error.value)
    assert "tuning_results come from another search" in message
    assert "grid.num_leaves was [7, 15], now [7]" in message
    assert "run `kedro run --pipelines tuning` with the current parameters first" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("overrides", "change"),
    [
        ({"fixed": {"objective": "binary", "seed": 2, "verbosity": -1}}, "fixed.seed was 1, now 2"),
        ({"num_boost_round": 60}, "num_boost_round was 30, now 60"),
        ({"early_stopping_rounds": 0}, "early_stopping_rounds was 5, now null"),
        ({"folds": [0, 1]}, "folds was null, now [0, 1]"),
        (
            {"search": {"strategy": "random", "n_combinations": 2}},
            'search.n_combinations was null, now 2; search.strategy was "grid", now "random"',
        ),
    ],
)
def test_every_setting_that_identifies_the_search_is_compared(searched, overrides, change):
    data, folds, results = searched
    now = tuning_data.tuning_params(**overrides)
    with pytest.raises(ReportingError, match=re.escape(change)):
        _check(results, data, folds, params=now, searched_with=tuning_data.tuning_params())


def test_settings_that_do_not_change_the_search_are_not_compared(searched):
    """Another ranking metric, limits or resume reorder or bound the search, not change it."""
    data, folds, results = searched
    now = tuning_data.tuning_params(
        primary_metric="logloss", max_trials=50, resume=False, progress_interval_s=3.0
    )
    checked = _check(results, data, folds, params=now, searched_with=tuning_data.tuning_params())
    pd.testing.assert_frame_equal(checked, results)


def test_results_without_a_recorded_search_are_refused_with_the_fix(searched):
    data, folds, results = searched
    regression = tuning_data.tuning_params(
        task="regression", primary_metric="rmse", fixed={"objective": "regression"}
    )
    run_info, results, predictions, curves = one_search(
        {"n_trials": 8}, results, PREDICTIONS, CURVES
    )
    with pytest.raises(ReportingError, match=r"written by an older version.*--pipelines tuning_re"):
        check_results_are_current(
            results,
            run_info,
            predictions,
            curves,
            data,
            folds,
            regression,
            ColumnParams(),
            tuning_pipeline="tuning_regression",
        )


@pytest.fixture(scope="module")
def searched_adaptively():
    """Data, folds and an adaptive search's result rows carrying their folds' fingerprints
    (its tuning_trials has none to compare with)."""
    data = tuning_data.model_input()
    folds = tuning_data.time_folds(data)
    params = tuning_data.tuning_params(search={"strategy": "random", "n_combinations": 2})
    arrays = FoldArrays(data, fold_rows(folds, None, len(data)), ColumnParams())
    results = pd.DataFrame(
        {
            "fold_id": [fold.fold_id for fold in fold_facts(arrays)],
            "fold_fingerprint": [fold.fingerprint for fold in fold_facts(arrays)],
        }
    ).assign(trial_id=lambda frame: "t" + frame["fold_id"].astype(str), combo_id="c", status="ok")
    return data, folds, results, params


def test_adaptive_results_are_checked_by_their_own_fingerprints(searched_adaptively):
    data, folds, results, params = searched_adaptively
    checked = _check(results, data, folds, params)
    pd.testing.assert_frame_equal(checked, results)
    changed = data.copy()
    changed.loc[len(data) - 1, "feature_0"] += 1.0  # the last fold's test part
    with pytest.raises(ReportingError, match=r"fold 2 were computed on other data"):
        _check(results, changed, folds, params)
    with pytest.raises(ReportingError, match=r"lack fold_fingerprint values"):
        _check(results.drop(columns="fold_fingerprint"), data, folds, params)


# ------------------------------------------------------------------------ one run of the search
@pytest.mark.parametrize(
    "stale", ["tuning_results", "tuning_predictions", "tuning_learning_curves"]
)
def test_outputs_of_two_runs_are_refused_naming_the_file(searched, stale):
    """A save that failed part-way (a full disk) left one file of the previous run: even an
    empty table (a search of fixed rounds has no learning curves) carries the id."""
    data, folds, results = searched
    params = tuning_data.tuning_params()
    info = {RUN_INFO_SEARCH: params.search_description()}
    run_info, *tables = one_search(info, results, PREDICTIONS, CURVES, search_id="new")
    names = ["tuning_results", "tuning_predictions", "tuning_learning_curves"]
    tables[names.index(stale)].attrs[SEARCH_ID] = "old"

    with pytest.raises(ReportingError) as error:
        check_results_are_current(
            tables[0], run_info, tables[1], tables[2], data, folds, params, ColumnParams()
        )

    message = str(error.value)
    assert message.startswith(f"{stale} was written by another run of the search")
    assert "(search id old, not new)" in message
    assert "run `kedro run --pipelines tuning`, which writes all four again, first" in message
    assert "\n" not in message


def test_outputs_without_a_search_id_are_refused(searched):
    data, folds, results = searched
    params = tuning_data.tuning_params()
    info = {RUN_INFO_SEARCH: params.search_description()}
    with pytest.raises(ReportingError, match=r"tuning_run_info carries no search id"):
        check_results_are_current(
            results, info, PREDICTIONS, CURVES, data, folds, params, ColumnParams()
        )
    run_info, stamped, predictions, curves = one_search(info, results, PREDICTIONS, CURVES)
    with pytest.raises(ReportingError, match=r"tuning_results was written .* \(search id none"):
        check_results_are_current(
            results, run_info, predictions, curves, data, folds, params, ColumnParams()
        )


@pytest.mark.slow
def test_a_save_that_failed_leaves_the_previous_set_whole_and_a_rerun_replaces_it(tmp_path):
    """Issue 32: when a save of the search's outputs failed, tuning_results and tuning_run_info
    were replaced and tuning_predictions kept its previous version; reporting then ranked one
    run's results with another's predictions. A real failure here: the predictions file made
    immutable (`chattr +i`) while the search's outputs are saved again. Now the four are moved
    into place as one set (datasets/search_outputs.py): the previous set stays as it was."""
    project = copy_project(tmp_path / "project")
    small = "data_generation.n_samples=1500,data_generation.n_features=5"
    first = kedro_run(project, "--params", small)
    assert first.returncode == 0, (first.stdout + first.stderr)[-3000:]
    outputs = project / "data" / "07_model_output"
    names = [
        "tuning_results.parquet",
        "tuning_run_info.json",
        "tuning_predictions.parquet",
        "tuning_learning_curves.parquet",
    ]
    previous = {name: (outputs / name).read_bytes() for name in names}
    predictions = outputs / "tuning_predictions.parquet"

    immutable = subprocess.run(["chattr", "+i", str(predictions)], capture_output=True, check=False)
    if immutable.returncode != 0:
        pytest.skip(f"chattr +i is not available here: {immutable.stderr.strip()!r}")
    try:
        failed = kedro_run(project, "--pipelines", "tuning", "--params", small)
    finally:
        subprocess.run(["chattr", "-i", str(predictions)], check=True)
    output = failed.stdout + failed.stderr
    assert failed.returncode == 1, output[-3000:]
    assert f"the previous {', '.join(names)} are left as they were" in output, output[-3000:]
    assert {name: (outputs / name).read_bytes() for name in names} == previous
    assert not [path.name for path in outputs.glob(".tuning_*")]  # nothing staged is left

    rerun = kedro_run(project, "--pipelines", "tuning,reporting", "--params", small)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-3000:]
    assert "0 to run" in rerun.stdout + rerun.stderr  # every trial came from the store
    run_info = json.loads((outputs / "tuning_run_info.json").read_text())
    assert run_info[SEARCH_ID] != json.loads(previous["tuning_run_info.json"])[SEARCH_ID]
    tables = [name for name in names if name.endswith(".parquet")]
    assert {pd.read_parquet(outputs / name).attrs[SEARCH_ID] for name in tables} == {
        run_info[SEARCH_ID]
    }
