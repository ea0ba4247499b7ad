"""Fixtures of the tuning tests: small time-series data and its expanding folds."""

from __future__ import annotations

import pytest

from .data import model_input, time_folds


@pytest.fixture(scope="module")
def data():
    return model_input()


@pytest.fixture(scope="module")
def folds(data):
    return time_folds(data, n_splits=3)
