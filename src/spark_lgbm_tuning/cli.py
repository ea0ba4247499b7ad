"""The project's `kedro run`: Kedro's own command, but an explained error is shown as one line.

Kedro lets an exception of `kedro run` reach Python's excepthook, which its rich logging handler
replaced with a rich traceback: ~170 lines before the one that says what to fix. For the
project's explained errors (`errors.ExplainedError`: bad Spark conf, unreachable or locked-down
master, missing inputs), a file of the project's data that cannot be read or written (an
`OSError` on a path, however Kedro wrapped it: `errors.explained`) and Kedro's own parameter
validation (the `params:` pydantic models), this command prints that line and a hint instead and
exits with status 1. Anything else keeps its full traceback, and so does every error with
`kedro run --verbose`.

With no `--pipelines` and an `input_table` declared in the run's catalog, `kedro run` runs
preparation, tuning and reporting on that table (pipeline_registry.py) and says so.

Kedro loads this module as the project's CLI (`<package>.cli`: its `cli` group overrides built-in
commands of the same name); `python -m spark_lgbm_tuning` runs the same `run`.

`kedro pack-executor-env` builds the archive of the executors' Python environment, for clusters
whose workers lack the project and its packages (spark/executor_env.py, docs/running.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import IO, Any

import click
from kedro.framework.cli.project import run as kedro_run
from kedro.framework.cli.utils import CONTEXT_SETTINGS
from kedro.framework.startup import ProjectMetadata
from kedro.utils import find_kedro_project
from kedro.validation.exceptions import ParameterValidationError

from spark_lgbm_tuning.pipeline_registry import OWN_DATA, declares_input_table
from spark_lgbm_tuning.spark.executor_env import DEFAULT_ARCHIVE, PACK_COMMAND, pack_executor_env
from spark_lgbm_tuning.vocabulary.errors import ExplainedError, explained

EXPLAINED_ERRORS = (ExplainedError, ParameterValidationError)
VERBOSE_HINT = "Run with --verbose (kedro run --verbose ...) to see the full traceback."
# What pydantic appends to each error: the error type and input (a repr of the whole block).
_PYDANTIC_DETAILS = re.compile(r"\s*\[type=.*$")
_PYDANTIC_LINK = "For further information visit"


def one_line(error: BaseException) -> str:
    """The error's message on one line; pydantic's per-error type, input and link left out."""
    lines = [line.strip() for line in str(error).splitlines()]
    return " ".join(
        _PYDANTIC_DETAILS.sub("", line)
        for line in lines
        if line and not line.startswith(_PYDANTIC_LINK)
    )


class ExplainedRunError(click.ClickException):
    """Exit status 1 with the error's type and message (on one line) and the hint, no traceback."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {one_line(error)}")

    def show(self, file: IO[Any] | None = None) -> None:
        click.secho(f"Error: {self.format_message()}", err=True, fg="red")
        click.secho(VERBOSE_HINT, err=True, fg="yellow")


def _own_data_unless_named(options: dict[str, Any]) -> dict[str, Any]:
    """`--pipelines preparation,tuning,reporting` when no pipeline is named and the run's
    catalog declares `input_table`: `kedro run` tunes the user's table, not synthetic data."""
    if options.get("pipelines") or options.get("pipeline"):
        return options
    project = find_kedro_project(Path.cwd())
    if project is None or not declares_input_table(
        project, options.get("env"), options.get("conf_source")
    ):
        return options
    click.echo(
        f"input_table is declared: running {', '.join(OWN_DATA)} on it (data_generation's "
        "synthetic table is not used)",
        err=True,
    )
    return {**options, "pipelines": list(OWN_DATA)}


def _run(verbose: bool, **options: Any) -> dict[str, Any]:
    try:
        return kedro_run.callback(**_own_data_unless_named(options))
    except EXPLAINED_ERRORS as error:
        if verbose:
            raise
        raise ExplainedRunError(error) from error
    except Exception as error:
        explanation = explained(error)
        if verbose or explanation is None:
            raise
        raise ExplainedRunError(explanation) from error


@click.group(context_settings=CONTEXT_SETTINGS, name=__file__)
def cli() -> None:
    """Command line tools of the spark-lgbm-tuning project."""


# Kedro's options, unchanged and kept in step with the installed Kedro, plus --verbose.
run = click.Command(
    name="run",
    callback=_run,
    params=[
        *kedro_run.params,
        click.Option(
            ["--verbose", "-v"],
            is_flag=True,
            help="Show the full traceback of every error, explained ones included.",
        ),
    ],
    help=kedro_run.help,
    context_settings=CONTEXT_SETTINGS,
)
cli.add_command(run)


@cli.command(name=PACK_COMMAND.split()[-1], context_settings=CONTEXT_SETTINGS)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_ARCHIVE,
    show_default=True,
    help="The archive to write (relative to the project); spark.archives names it.",
)
@click.option(
    "--python-prefix",
    default=None,
    help="Where the workers' Python 3.11 lives (e.g. /usr for /usr/bin/python3.11), when not "
    "at the driver's interpreter's prefix.",
)
@click.pass_obj  # Kedro passes the project's metadata
def pack_executor_env_command(
    metadata: ProjectMetadata, output: Path, python_prefix: str | None
) -> None:
    """Build the executors' Python environment (LightGBM & co. and this project) as one archive.

    Ship it with `kedro run --env shipped` (spark.archives), or under Spark Connect with the same
    settings (addArtifacts); the workers then need only Spark and a Python 3.11.
    """
    try:
        packed = pack_executor_env(
            metadata.project_path,
            metadata.source_dir,
            metadata.project_path / output,
            python_prefix,
        )
    except ExplainedError as error:
        raise ExplainedRunError(error) from error
    click.echo(
        f"{packed.archive}: {packed.size_bytes / 1e6:.0f} MB in {packed.seconds:.0f} s "
        f"({', '.join(packed.requirements)} and {metadata.package_name})"
    )
