"""Fixtures of the tuning tests: small time-series data and its expanding folds."""

from __future__ import annotations

import pytest

from .data import time_folds, timeseries_data


@pytest.fixture(scope="module")
def data():
    return timeseries_data()


@pytest.fixture(scope="module")
def folds(data):
    return time_folds(data, n_splits=3)
