"""The project's `kedro run`: Kedro's own command, but an explained error is shown as one line.

Kedro lets an exception of `kedro run` reach Python's excepthook, which its rich logging handler
replaced with a rich traceback: ~170 lines before the one that says what to fix. For the
project's explained errors (`errors.ExplainedError`: bad Spark conf, unreachable or locked-down
master, missing inputs), a file of the project's data that cannot be read or written (an
`OSError` on a path, however Kedro wrapped it: `errors.explained`) and Kedro's own parameter
validation (the `params:` pydantic models), this command prints that line and a hint instead and
exits with status 1. Anything else keeps its full traceback, and so does every error with
`kedro run --verbose`.

Kedro loads this module as the project's CLI (`<package>.cli`: its `cli` group overrides built-in
commands of the same name); `python -m spark_lgbm_tuning` runs the same `run`.
"""

from __future__ import annotations

import re
from typing import IO, Any

import click
from kedro.framework.cli.project import run as kedro_run
from kedro.framework.cli.utils import CONTEXT_SETTINGS
from kedro.validation.exceptions import ParameterValidationError

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


def _run(verbose: bool, **options: Any) -> dict[str, Any]:
    try:
        return kedro_run.callback(**options)
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
