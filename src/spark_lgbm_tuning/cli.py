"""The project's `kedro run`: Kedro's own command, but an explained error is shown as one line.

Kedro lets an exception of `kedro run` reach Python's excepthook, which its rich logging handler
replaced with a rich traceback: ~170 lines before the one that says what to fix. For the
project's explained errors (`errors.ExplainedError`: bad Spark conf, unreachable or locked-down
master, missing inputs), a file of the project's data that cannot be read or written (an
`OSError` on a path, however Kedro wrapped it: `errors.explained`) and Kedro's own parameter
validation (the `params:` pydantic models), this command prints that line and a hint instead and
exits with status 1. Anything else keeps its full traceback, and so does every error with
`kedro run --verbose`. Kedro's own ERROR log of a parameter validation failure is kept off the
console: the `Error:` line says the same once.

Two mistakes of the command line itself are refused before Kedro starts, in one line with no
hint (there is no traceback to show): an `--env` (or KEDRO_ENV) that names no folder of conf/,
and a list or range in `--params` written with commas, which Kedro's `--params` splits at.

With no `--pipelines` and an `input_table` declared in the run's catalog, `kedro run` runs
preparation, tuning and reporting on that table (pipeline_registry.py) and says so.

Kedro loads this module as the project's CLI (`<package>.cli`: its `cli` group overrides built-in
commands of the same name); `python -m spark_lgbm_tuning` runs the same `run`.

`kedro pack-executor-env` builds the archive of the executors' Python environment, for clusters
whose workers lack the project and its packages (spark/executor_env.py, docs/running.md).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
from kedro.framework.cli.project import run as kedro_run
from kedro.framework.cli.utils import CONTEXT_SETTINGS
from kedro.framework.project import settings
from kedro.framework.startup import ProjectMetadata
from kedro.utils import find_kedro_project
from kedro.validation.exceptions import ParameterValidationError

from spark_lgbm_tuning.pipeline_registry import OWN_DATA, declares_input_table
from spark_lgbm_tuning.spark.executor_env import DEFAULT_ARCHIVE, PACK_COMMAND, pack_executor_env
from spark_lgbm_tuning.vocabulary.errors import ConfigError, ExplainedError, explained

EXPLAINED_ERRORS = (ExplainedError, ParameterValidationError)
VERBOSE_HINT = "Run with --verbose (kedro run --verbose ...) to see the full traceback."
# What pydantic appends to each error: the error type and input (a repr of the whole block).
_PYDANTIC_DETAILS = re.compile(r"\s*\[type=.*$")
_PYDANTIC_LINK = "For further information visit"
# Kedro's parameter validation logs each failure at ERROR before it raises the error this command
# prints: rich wraps that log record into a narrow column, 15-25 lines repeating the `Error:` line.
_VALIDATION_LOGGER = "kedro.validation.parameter_validator"
# ctx.meta key: the `--params` item whose list or range Kedro would split at its commas.
_SPLIT_ITEM = "spark_lgbm_tuning.params_split_item"


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

    def __init__(self, error: BaseException, hint: str | None = VERBOSE_HINT) -> None:
        super().__init__(f"{type(error).__name__}: {one_line(error)}")
        self.hint = hint

    def show(self, file: IO[Any] | None = None) -> None:
        click.secho(f"Error: {self.format_message()}", err=True, fg="red")
        if self.hint:
            click.secho(self.hint, err=True, fg="yellow")


class _BelowError(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR


@contextlib.contextmanager
def _validation_errors_unlogged() -> Iterator[None]:
    """Kedro's ERROR records of parameter validation dropped (the error is printed instead)."""
    validation_logger, drop = logging.getLogger(_VALIDATION_LOGGER), _BelowError()
    validation_logger.addFilter(drop)
    try:
        yield
    finally:
        validation_logger.removeFilter(drop)


def _run_env(options: dict[str, Any]) -> tuple[str | None, str]:
    """The env the run asked for (None: Kedro's default) and where it was named."""
    if options.get("env"):
        return options["env"], "--env"
    return os.environ.get("KEDRO_ENV") or None, "KEDRO_ENV"


def _check_env_exists(options: dict[str, Any]) -> None:
    """Refuse an env with no folder in conf/: Kedro would warn of missing files and end in a
    ~250-line traceback that does not say the env is misspelt."""
    env, named_by = _run_env(options)
    project = find_kedro_project(Path.cwd())
    if env is None or project is None:
        return
    conf = Path(options.get("conf_source") or project / settings.CONF_SOURCE)
    # A conf_source may be an archive or a remote URL: only a folder can be looked into.
    if not conf.is_dir() or (conf / env).is_dir():
        return
    base = settings.CONFIG_LOADER_ARGS.get("base_env", "base")
    envs = sorted(path.name for path in conf.iterdir() if path.is_dir() and path.name != base)
    error = ConfigError(
        f"{named_by} '{env}' names no folder of {conf.name}/: the envs are {', '.join(envs)}"
    )
    raise ExplainedRunError(error, hint=None)


def _comma_inside(value: str) -> str | None:
    """The first `key=value` item of a `--params` string with a comma inside [..] or {..}."""
    depth, item, inside = 0, "", False
    for char in value + ",":
        if char == "," and depth <= 0:
            if inside and "=" in item:
                return item.strip()
            depth, item, inside = 0, "", False
            continue
        depth += (char in "[{") - (char in "]}")
        inside = inside or (char == "," and depth > 0)
        item += char
    return None


def _split_params_or_defer(
    kedro_callback: Any, ctx: click.Context, param: click.Parameter, value: Any
) -> Any:
    """Kedro's `--params` callback, but a list or range with commas is kept for `_run` to
    refuse (Kedro would fail with "Item `15]` must contain a key and a value")."""
    item = _comma_inside(value) if isinstance(value, str) else None
    if item is None:
        return kedro_callback(ctx, param, value)
    # Refused in _run, once --env is known (click may parse it after --params).
    ctx.meta[_SPLIT_ITEM] = item
    return {}


def _check_params_unsplit(options: dict[str, Any]) -> None:
    """Refuse the `--params` item `_split_params_or_defer` kept, naming the file it goes in."""
    item = click.get_current_context().meta.get(_SPLIT_ITEM)
    if item is None:
        return
    key, _, value = item.partition("=")
    env = _run_env(options)[0] or settings.CONFIG_LOADER_ARGS.get("default_run_env", "local")
    *parents, name = key.strip().split(".")
    nested = f"{name}: {value.strip()}"
    for parent in reversed(parents):
        nested = f"{parent}: {{{nested}}}"
    top = key.strip().split(".")[0]
    error = ConfigError(
        f"--params splits its value at every comma, also inside the list or range of '{item}': "
        f"write it in conf/{env}/parameters_{top}.yml as `{nested}` (a YAML list or range "
        "replaces conf/base's axis whole) and leave it out of --params"
    )
    raise ExplainedRunError(error, hint=None)


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
    _check_env_exists(options)
    _check_params_unsplit(options)
    try:
        with contextlib.nullcontext() if verbose else _validation_errors_unlogged():
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


def _with_params_check(option: click.Parameter) -> click.Parameter:
    if option.name != "params":
        return option
    checked = copy.copy(option)
    checked.callback = functools.partial(_split_params_or_defer, option.callback)
    return checked


# Kedro's options, kept in step with the installed Kedro (`--params` refusing a split list), plus
# --verbose.
run = click.Command(
    name="run",
    callback=_run,
    params=[
        *map(_with_params_check, kedro_run.params),
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
