"""cli.py: a real `kedro run` in a copy of the project prints an explained error as one line and a
hint, keeps the traceback of any other error, and shows every traceback with --verbose."""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import pytest

from spark_lgbm_tuning.cli import VERBOSE_HINT
from tests.cluster import kedro_run
from tests.project_copy import copy_project

# Each test is a `kedro run` in a subprocess: the slow tier.
pytestmark = pytest.mark.slow

logger = logging.getLogger(__name__)

TRACEBACK = "Traceback (most recent call last)"
# The rich traceback Kedro's logging installs draws its frames in boxes.
RICH_FRAME = "╭─"
# Kedro's two INFO lines (logging config, project name) plus the error and the hint; rich wraps
# none of them at COLUMNS=250.
MAX_LINES_OF_AN_EXPLAINED_ERROR = 12


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def _unknown_master(project: Path) -> Path:
    (project / "conf" / "local" / "spark.yml").write_text("spark.master: foo://bar\n")
    return project


def _output(run) -> str:
    return run.stdout + run.stderr


def test_an_unknown_master_scheme_is_one_line_naming_the_key_and_file(project):
    run = kedro_run(_unknown_master(project), "--pipelines", "tuning")
    output = _output(run)

    assert run.returncode == 1, output
    assert (
        "Error: SparkConfigError: spark.master 'foo://bar' in conf/local/spark.yml is not a Spark "
        "master URL: use local, local[N], local[*]" in output
    )
    assert VERBOSE_HINT in output
    assert TRACEBACK not in output
    assert RICH_FRAME not in output
    assert "JAVA_GATEWAY_EXITED" not in output
    assert len(output.strip().splitlines()) <= MAX_LINES_OF_AN_EXPLAINED_ERROR, output


def test_an_unknown_master_scheme_from_spark_master_names_the_cluster_env_file(project):
    run = kedro_run(project, "--env", "cluster", "--pipelines", "tuning", spark_master="foo://bar")

    assert run.returncode == 1
    assert "spark.master 'foo://bar' in conf/cluster/spark.yml" in _output(run)
    assert TRACEBACK not in _output(run)


def test_verbose_shows_the_traceback_of_an_explained_error(project):
    run = kedro_run(_unknown_master(project), "--pipelines", "tuning", "--verbose")
    output = _output(run)

    assert run.returncode == 1
    assert RICH_FRAME in output
    assert "SparkConfigError: spark.master 'foo://bar'" in output
    assert VERBOSE_HINT not in output


def test_a_missing_input_is_one_line(project):
    run = kedro_run(project, "--pipelines", "tuning")

    assert run.returncode == 1
    assert "Error: MissingInputError: Input dataset 'model_folds@pandas' does not exist" in (
        _output(run)
    )
    assert "run `kedro run --pipelines data_generation` first." in _output(run)
    assert RICH_FRAME not in _output(run)


def test_a_parameter_validation_error_is_shown_without_the_traceback(project):
    run = kedro_run(project, "--pipelines", "reporting", "--params", "reporting.top_n=0")
    output = _output(run)

    assert run.returncode == 1
    assert "Error: ParameterValidationError: Parameter validation failed:" in output
    assert "greater than or equal to 1" in output
    assert RICH_FRAME not in output


def test_a_value_of_the_wrong_type_is_one_line_naming_its_setting(project):
    """Issue 25: `learning_rate: [true]` ended in LightGBM's `Unknown token true in data file`,
    which names no setting."""
    run = kedro_run(
        project, "--pipelines", "tuning", "--params", "tuning.grid.learning_rate=[true]"
    )
    errors = [line for line in _output(run).splitlines() if line.startswith("Error: ")]

    assert run.returncode == 1
    assert len(errors) == 1, _output(run)
    assert errors[0].startswith("Error: ParameterValidationError: Parameter validation failed:")
    assert (
        "grid.learning_rate value true is a boolean, but LightGBM's learning_rate takes a number"
        in errors[0]
    )
    # pydantic's input repr and link are left out of the line.
    assert "input_value" not in errors[0] and "errors.pydantic.dev" not in errors[0]


def test_an_unexpected_error_keeps_its_full_traceback(project):
    run = kedro_run(project, "--pipelines", "tuning", "--runner", "NoSuchRunner")
    output = _output(run)

    assert run.returncode == 1
    assert RICH_FRAME in output
    assert "AttributeError: module 'kedro.runner' has no attribute 'NoSuchRunner'" in output
    assert VERBOSE_HINT not in output


@pytest.mark.slow
def test_an_input_data_error_raised_in_a_node_is_one_line(project):
    generated = kedro_run(
        project,
        "--pipelines",
        "data_generation",
        "--params",
        "data_generation.n_samples=2000,data_generation.n_features=6",
    )
    assert generated.returncode == 0, _output(generated)[-3000:]

    run = kedro_run(project, "--pipelines", "tuning", "--params", "tuning.folds=[99]")
    output = _output(run)

    assert run.returncode == 1, output[-3000:]
    assert "Error: InputDataError: tuning.folds names unknown fold ids [99]; available:" in output
    assert RICH_FRAME not in output


def _timed_run(project: Path, *args: str):
    started = time.monotonic()
    run = kedro_run(project, *args)
    return run, time.monotonic() - started


def test_a_file_where_the_reporting_folder_should_be_is_one_line_naming_it(project):
    reporting = project / "data" / "08_reporting"
    reporting.rmdir()
    reporting.write_text("a file in the way")
    run, wall = _timed_run(project, "--pipelines", "reporting")
    output = _output(run)

    assert run.returncode == 1, output
    assert (
        f"Error: ProjectFileError: Input dataset 'fold_summary' cannot be read: {reporting} is a "
        "file where a folder should be" in output
    ), output
    assert TRACEBACK not in output and RICH_FRAME not in output
    assert len(output.strip().splitlines()) <= MAX_LINES_OF_AN_EXPLAINED_ERROR, output
    logger.warning("a file in place of data/08_reporting: one line after %.1f s", wall)


@pytest.mark.slow
def test_an_immutable_reporting_folder_is_one_line_naming_it_and_the_fix(project):
    reporting = project / "data" / "08_reporting"
    immutable = subprocess.run(["chattr", "+i", str(reporting)], capture_output=True, check=False)
    if immutable.returncode != 0:
        pytest.skip(f"chattr +i is not available here: {immutable.stderr.strip()!r}")
    try:
        run, wall = _timed_run(project, "--pipelines", "data_generation")
        verbose = kedro_run(project, "--pipelines", "data_generation", "--verbose")
    finally:
        subprocess.run(["chattr", "-i", str(reporting)], check=True)
    output = _output(run)

    assert run.returncode == 1, output[-3000:]
    [error] = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert error.startswith("Error: ProjectFileError: Cannot save '"), error
    assert f"to {reporting}/" in error and "[Errno 1] Operation not permitted" in error
    assert f"chattr -i {reporting}" in error
    assert TRACEBACK not in output and RICH_FRAME not in output
    assert VERBOSE_HINT in output
    assert verbose.returncode == 1 and RICH_FRAME in _output(verbose)
    assert "PermissionError" in _output(verbose)
    logger.warning("an immutable data/08_reporting: one line after %.1f s", wall)


def _lines(run) -> list[str]:
    return [line for line in _output(run).strip().splitlines() if line.strip()]


def test_an_env_with_no_folder_is_one_line_listing_the_envs_last(project):
    """Issue 32: `--env doesnotexist` warned of missing files and ended in a 253-line traceback."""
    run, wall = _timed_run(project, "--env", "doesnotexist", "--pipelines", "tuning")
    lines = _lines(run)

    assert run.returncode == 1, _output(run)
    assert lines[-1] == (
        "Error: ConfigError: --env 'doesnotexist' names no folder of conf/: the envs are "
        "cluster, connect, docker, local, penguins, penguins_species, reference, shipped"
    ), _output(run)
    assert TRACEBACK not in _output(run) and "No files of YAML" not in _output(run)
    assert len(lines) <= MAX_LINES_OF_AN_EXPLAINED_ERROR, _output(run)
    logger.warning("--env doesnotexist: one line after %.1f s", wall)


def test_a_parameter_validation_error_is_printed_once_and_last(project):
    """Issue 32: Kedro's ERROR log repeated the message, wrapped in a narrow column (21-29
    lines), before the one `Error:` line."""
    run, wall = _timed_run(project, "--pipelines", "reporting", "--params", "reporting.top_n=0")
    lines = _lines(run)

    assert run.returncode == 1, _output(run)
    assert lines[-2].startswith("Error: ParameterValidationError: Parameter validation failed:")
    assert lines[-1] == VERBOSE_HINT
    assert _output(run).count("greater than or equal to 1") == 1, _output(run)
    assert len(lines) <= MAX_LINES_OF_AN_EXPLAINED_ERROR, _output(run)
    logger.warning("a parameter validation error: one line after %.1f s", wall)


@pytest.mark.parametrize(
    ("env_args", "env"),
    [((), "local"), (("--env", "penguins"), "penguins")],  # --env after --params
)
def test_a_list_with_a_comma_in_params_points_to_the_conf_file_form(project, env_args, env):
    """Issue 32: Kedro split the list at its comma and failed with "Item `15]` must contain a key
    and a value", saying nothing of where a list axis goes."""
    run, wall = _timed_run(
        project, "--pipelines", "tuning", "--params", "tuning.grid.num_leaves=[7,15]", *env_args
    )
    lines = _lines(run)

    assert run.returncode == 1, _output(run)
    assert lines[-1] == (
        "Error: ConfigError: --params splits its value at every comma, also inside the list or "
        f"range of 'tuning.grid.num_leaves=[7,15]': write it in conf/{env}/parameters_tuning.yml "
        "as `tuning: {grid: {num_leaves: [7,15]}}` (a YAML list or range replaces conf/base's "
        "axis whole) and leave it out of --params"
    ), _output(run)
    assert len(lines) <= MAX_LINES_OF_AN_EXPLAINED_ERROR, _output(run)
    logger.warning("a comma in a --params list: one line after %.1f s", wall)
