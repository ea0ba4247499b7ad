"""config_loader.py: parameters layered over conf/base as a user writes them in conf/local or
--params; ranges in either form, grid_replace, and one-line errors naming the file and key."""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from spark_lgbm_tuning.pipelines.tuning.params import RUN_INFO_SEARCH, TuningParams
from spark_lgbm_tuning.pipelines.tuning.search_params import SearchRange
from spark_lgbm_tuning.settings import CONFIG_LOADER_ARGS, CONFIG_LOADER_CLASS
from spark_lgbm_tuning.vocabulary.errors import ConfigError
from tests.cluster import kedro_run
from tests.project_copy import copy_project

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LOCAL = "conf/local/parameters_tuning.yml"
BASE = "conf/base/parameters_tuning.yml"
# The forms the README and conf/base/parameters_tuning.yml document for a range.
NUM_LEAVES_RANGE = "{low: 15, high: 2048, log: true, int: true}"
LEARNING_RATE_RANGE = "[{low: 0.01, high: 0.3, log: true}]"
ADAPTIVE = "  search: {strategy: tpe, n_combinations: 4}\n"
TRACEBACK = "Traceback (most recent call last)"


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    """conf/base of the project and an empty conf/local."""
    shutil.copytree(PROJECT_ROOT / "conf" / "base", tmp_path / "conf" / "base")
    (tmp_path / "conf" / "local").mkdir()
    return tmp_path / "conf"


def _parameters(conf: Path, local: str | None = None, **runtime) -> dict:
    if local is not None:
        (conf / "local" / "parameters_tuning.yml").write_text(local)
    loader = CONFIG_LOADER_CLASS(str(conf), runtime_params=runtime or None, **CONFIG_LOADER_ARGS)
    return loader["parameters"]


def _tuning(conf: Path, local: str | None = None, **runtime) -> TuningParams:
    return TuningParams.model_validate(_parameters(conf, local, **runtime)["tuning"])


def test_both_range_forms_in_conf_local_replace_base_list_axes(conf):
    tuning = _tuning(
        conf,
        f"tuning:\n  grid:\n    num_leaves: {NUM_LEAVES_RANGE}\n"
        f"    learning_rate: {LEARNING_RATE_RANGE}\n{ADAPTIVE}",
    )

    assert tuning.grid == {
        "num_leaves": SearchRange(low=15, high=2048, log=True, int=True),
        "learning_rate": SearchRange(low=0.01, high=0.3, log=True),
        "min_child_samples": [20, 100],  # base's axis the override does not name
    }


def test_a_list_in_conf_local_replaces_a_range_of_conf_base_whole(conf):
    """A range in base (either form) and a list over it: no key of the range survives."""
    base = conf / "base" / "parameters_tuning.yml"
    base.write_text(
        base.read_text().replace("num_leaves: [15, 63]", f"num_leaves: {NUM_LEAVES_RANGE}")
    )
    tuning = _tuning(conf, "tuning:\n  grid:\n    num_leaves: [7, 31]\n")
    assert tuning.grid["num_leaves"] == [7, 31]

    # And a range over a range replaces it whole too (no `log: true` left from base).
    tuning = _tuning(conf, f"tuning:\n  grid:\n    num_leaves: {{low: 4, high: 64}}\n{ADAPTIVE}")
    assert tuning.grid["num_leaves"] == SearchRange(low=4, high=64)


def test_a_range_from_the_command_line_replaces_a_base_list(conf):
    tuning = _tuning(
        conf,
        None,
        tuning={
            "grid": {"num_leaves": {"low": 15, "high": 255, "int": True}},
            "search": {"strategy": "random", "n_combinations": 3},
        },
    )
    assert tuning.grid["num_leaves"] == SearchRange(low=15, high=255, int=True)


def test_grid_replace_drops_the_base_axes_the_override_does_not_name(conf):
    tuning = _tuning(
        conf,
        "tuning:\n  grid_replace: true\n  fixed: {learning_rate: 0.1}\n"
        "  grid:\n    num_leaves: [7, 15]\n",
    )
    assert tuning.grid == {"num_leaves": [7, 15]}
    assert tuning.fixed["learning_rate"] == 0.1

    # From --params, over conf/local's grid and base's.
    runtime = {"grid_replace": True, "grid": {"max_depth": [3, 5]}}
    assert _tuning(conf, None, tuning=runtime).grid == {"max_depth": [3, 5]}


def test_grid_replace_false_merges_as_usual(conf):
    tuning = _tuning(conf, "tuning:\n  grid_replace: false\n  grid:\n    num_leaves: [7]\n")
    assert set(tuning.grid) == {"num_leaves", "learning_rate", "min_child_samples"}


def test_a_fixed_name_beside_a_base_axis_is_refused_naming_both_files_and_the_fixes(conf):
    with pytest.raises(ConfigError) as error:
        _parameters(conf, "tuning:\n  fixed:\n    learning_rate: 0.1\n")

    assert str(error.value) == (
        f"learning_rate is in both tuning.fixed ({LOCAL}) and tuning.grid ({BASE}); keep one: "
        "drop the axis with `tuning.grid.learning_rate: null`, or replace the whole grid with "
        f"`tuning.grid_replace: true` beside the new grid, in {LOCAL}"
    )


def test_the_null_that_drops_an_axis_lets_a_fixed_name_in(conf):
    parameters = _parameters(
        conf, "tuning:\n  fixed:\n    learning_rate: 0.1\n  grid:\n    learning_rate: null\n"
    )
    assert TuningParams.model_validate(parameters["tuning"]).fixed["learning_rate"] == 0.1


@pytest.mark.parametrize(
    ("local", "message"),
    [
        (
            "tuning:\n  grid:\n    num_leaves: {low: 64, high: 8}\n",
            f"{LOCAL}: tuning.grid.num_leaves range: a range needs low < high, got low=64 high=8",
        ),
        (
            "tuning:\n  grid:\n    num_leaves: [{low: 8, hihg: 64}]\n",
            f"{LOCAL}: tuning.grid.num_leaves range: unknown key(s) ['hihg']",
        ),
        (
            "tuning:\n  grid:\n    num_leaves: 31\n",
            f"{LOCAL}: tuning.grid.num_leaves must be a list of values (e.g. [31]) or a range",
        ),
        (
            "tuning:\n  grid_replace: yes please\n",
            f"{LOCAL}: tuning.grid_replace must be true or false, got 'yes please'",
        ),
        (
            "tuning:\n  grid_replace: true\n  fixed: {seed: 1}\n",
            f"{LOCAL}: tuning.grid_replace is true but {LOCAL} sets no tuning.grid",
        ),
        (
            "tuning:\n  search: [tpe]\n",
            f"tuning.search is a mapping in {BASE} but a list in {LOCAL}, and one cannot be "
            "merged over the other",
        ),
        # Issue 32: pydantic's 'Extra inputs are not permitted', no file, no key meant.
        (
            "tuning:\n  serach: {strategy: tpe}\n",
            f"{LOCAL}: tuning.serach is no key of tuning (did you mean 'search'?)",
        ),
        (
            "regression:\n  tuning:\n    search:\n      round_pruning: {etta: 2}\n",
            f"{LOCAL}: regression.tuning.search.round_pruning.etta is no key of "
            "regression.tuning.search.round_pruning (did you mean 'eta'?)",
        ),
    ],
)
def test_a_bad_override_is_one_line_naming_file_and_key(conf, local, message):
    with pytest.raises(ConfigError) as error:
        _parameters(conf, local)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_the_regression_search_block_layers_the_same_way(conf):
    parameters = _parameters(
        conf,
        "regression:\n  tuning:\n    grid:\n      num_leaves: {low: 7, high: 63, int: true}\n"
        "    search: {strategy: random, n_combinations: 2}\n",
    )
    tuning = TuningParams.model_validate(parameters["regression"]["tuning"])
    assert tuning.grid["num_leaves"] == SearchRange(low=7, high=63, int=True)
    assert tuning.grid["learning_rate"] == [0.05, 0.1]


def test_an_unknown_top_level_params_key_is_refused_naming_the_closest(conf):
    with pytest.raises(ConfigError) as error:
        _parameters(conf, None, tunning={"grid": {"num_leaves": [7]}})
    assert str(error.value) == (
        "--params key 'tunning' is no parameter of this project (did you mean 'tuning'?); "
        "nothing would read it"
    )


def test_a_misspelt_tuning_key_in_params_is_refused_naming_params_and_the_closest(conf):
    with pytest.raises(ConfigError) as error:
        _parameters(conf, None, tuning={"search": {"stratgy": "tpe"}})
    assert str(error.value) == (
        "--params: tuning.search.stratgy is no key of tuning.search (did you mean 'strategy'?)"
    )


def test_a_params_key_a_config_file_reads_as_runtime_params_is_known(conf):
    (conf / "base" / "catalog_extra.yml").write_text(
        'extra:\n  type: pandas.CSVDataset\n  filepath: "data/${runtime_params:run_date}.csv"\n'
    )
    # Not refused: the catalog reads it.
    assert _parameters(conf, None, run_date="2026-12-06")["run_date"] == "2026-12-06"


def test_another_env_names_the_conf_local_parameter_files_it_does_not_read(conf):
    """Issue 32: under `--env connect` a grid in conf/local was dropped without a word."""
    (conf / "connect").mkdir()
    local = conf / "local"
    (local / "parameters_tuning.yml").write_text("tuning:\n  grid:\n    num_leaves: [7]\n")
    (local / "parameters" / "mine").mkdir(parents=True)
    (local / "parameters" / "mine" / "columns.yaml").write_text("columns: {target: y}\n")
    # Not parameters (another config pattern), not a config file, hidden: not named.
    (local / "spark.yml").write_text("spark.sql.shuffle.partitions: 2\n")
    (local / "parameters_notes.txt").write_text("num_leaves: [7]\n")
    (local / ".parameters_old.yml").write_text("tuning: {}\n")

    def loader(env: str | None):
        return CONFIG_LOADER_CLASS(str(conf), env=env, **CONFIG_LOADER_ARGS)

    connect = loader("connect")
    assert connect["parameters"]["tuning"]["grid"]["num_leaves"] != [7]  # Kedro's rule
    assert connect.unread_parameter_files() == [
        "conf/local/parameters/mine/columns.yaml",
        "conf/local/parameters_tuning.yml",
    ]
    for env in (None, "local"):  # the default env reads them
        assert loader(env)["parameters"]["tuning"]["grid"]["num_leaves"] == [7]
        assert loader(env).unread_parameter_files() == []


# ------------------------------------------------------------------- as a user meets it: kedro run
def _error_lines(run) -> list[str]:
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error: ")]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


@pytest.mark.slow
def test_kedro_run_refuses_a_misspelt_params_key_in_one_line(project):
    """Issue 25: `--params "tunning.grid.num_leaves=[7]"` ran the default search, exit 0."""
    run = kedro_run(project, "--pipelines", "tuning", "--params", "tunning.grid.num_leaves=[7]")

    assert run.returncode == 1
    assert _error_lines(run) == [
        "Error: ConfigError: --params key 'tunning' is no parameter of this project (did you "
        "mean 'tuning'?); nothing would read it"
    ]
    assert TRACEBACK not in run.stdout + run.stderr


@pytest.mark.slow
def test_kedro_run_refuses_a_bad_range_in_conf_local_in_one_line(project):
    """Issue 25: a range mapping over base's list ended in ~350 lines of `TypeError: Cannot
    merge incompatible container types`, naming neither the file nor the key."""
    (project / LOCAL).write_text(
        f"tuning:\n  grid:\n    num_leaves: {{low: 64, high: 8}}\n{ADAPTIVE}"
    )

    run = kedro_run(project, "--pipelines", "tuning")

    assert run.returncode == 1
    assert _error_lines(run) == [
        f"Error: ConfigError: {LOCAL}: tuning.grid.num_leaves range: a range needs low < high, "
        "got low=64 high=8"
    ]
    assert "Cannot merge incompatible container types" not in run.stdout + run.stderr


@pytest.mark.slow
def test_kedro_run_refuses_a_misspelt_tuning_key_in_one_line_naming_file_and_key(project):
    """Issue 32: `serach:` under tuning got pydantic's 'Extra inputs are not permitted', naming
    neither the file nor the key meant."""
    (project / LOCAL).write_text("tuning:\n  serach: {strategy: tpe, n_combinations: 4}\n")

    started = time.monotonic()
    run = kedro_run(project, "--pipelines", "tuning")
    wall = time.monotonic() - started

    assert run.returncode == 1
    assert _error_lines(run) == [
        f"Error: ConfigError: {LOCAL}: tuning.serach is no key of tuning (did you mean 'search'?)"
    ], run.stdout + run.stderr
    assert TRACEBACK not in run.stdout + run.stderr
    logger.warning("a misspelt key under tuning: one line after %.1f s", wall)


@pytest.mark.slow
def test_kedro_run_searches_every_documented_range_form_written_in_conf_local(project):
    """Both range forms over base's list axes (tuning), and grid_replace with a range
    (regression.tuning), written into conf/local and run end to end with reporting."""
    (project / LOCAL).write_text(
        f"tuning:\n  grid:\n    num_leaves: {NUM_LEAVES_RANGE}\n"
        f"    learning_rate: {LEARNING_RATE_RANGE}\n"
        "  search: {strategy: tpe, n_combinations: 3}\n"
        "regression:\n  tuning:\n    grid_replace: true\n"
        "    grid:\n      num_leaves: {low: 7, high: 63, int: true}\n"
        "    search: {strategy: random, n_combinations: 2}\n"
    )
    small = "data_generation.n_samples=1500,data_generation.n_features=5"

    run = kedro_run(
        project,
        "--pipelines",
        "__default__,tuning_regression,reporting_regression",
        "--params",
        small,
    )

    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    output = project / "data" / "07_model_output"
    searched = json.loads((output / "tuning_run_info.json").read_text())[RUN_INFO_SEARCH]
    assert searched["grid"] == {
        "num_leaves": {"low": 15, "high": 2048, "log": True, "int": True},
        "learning_rate": {"low": 0.01, "high": 0.3, "log": True, "int": False},
        "min_child_samples": [20, 100],
    }
    regression = json.loads((output / "regression_tuning_run_info.json").read_text())
    assert regression[RUN_INFO_SEARCH]["grid"] == {
        "num_leaves": {"low": 7, "high": 63, "log": False, "int": True}
    }
    results = pd.read_parquet(output / "tuning_results.parquet")
    assert results["param_num_leaves"].between(15, 2048).all()
    assert (project / "data" / "08_reporting" / "tuning_report_latest.html").is_file()
