"""The project's explained errors: a message that names the problem and its fix is the whole story.

`kedro run` (the project's `cli.py`) prints such an error as its message and a hint, without the
traceback Kedro's rich handler would print; any other exception keeps its full traceback, as does
`kedro run --verbose`. Raise a subclass of `ExplainedError` (mixed with the built-in type callers
catch, e.g. `class TrialStoreError(ExplainedError, ValueError)`) only when the message says
what to fix: a traceback would add nothing for the user.
"""

from __future__ import annotations


class ExplainedError(Exception):
    """An error whose message tells the user what is wrong and how to fix it."""


class SparkConfigError(ExplainedError, RuntimeError):
    """The Spark configuration or runtime cannot give a working session."""


class InputDataError(ExplainedError, ValueError):
    """The run's data, folds or columns cannot give a meaningful search; the message names the fix."""


class ConfigError(ExplainedError, ValueError):
    """A configuration file or `--params` value cannot give the run's parameters; the message
    names the file (or --params) and the key."""
