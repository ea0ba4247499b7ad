"""errors: every explained error is shown as one line by cli.py and still caught as before."""

from __future__ import annotations

import pytest

from spark_lgbm_tuning.cli import EXPLAINED_ERRORS
from spark_lgbm_tuning.errors import (
    ConfigError,
    ExplainedError,
    InputDataError,
    SparkConfigError,
)
from spark_lgbm_tuning.hooks import MissingInputError
from spark_lgbm_tuning.pipelines.reporting.results import ReportingError


@pytest.mark.parametrize(
    ("error_type", "caught_as"),
    [
        # Callers and tests catch these by the built-in type they had before ExplainedError.
        (SparkConfigError, RuntimeError),
        (MissingInputError, RuntimeError),
        (InputDataError, ValueError),
        (ReportingError, ValueError),
        (ConfigError, ValueError),
    ],
)
def test_an_explained_error_is_shown_as_one_line_and_caught_as_before(error_type, caught_as):
    with pytest.raises(caught_as) as raised:
        raise error_type("what is wrong: the fix")

    assert isinstance(raised.value, EXPLAINED_ERRORS)
    assert isinstance(raised.value, ExplainedError)
    assert str(raised.value) == "what is wrong: the fix"
