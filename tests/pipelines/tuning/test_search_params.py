"""`tuning.search` as SearchParams (and its ranges, round pruning): bad settings fail in one line."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from spark_lgbm_tuning.pipelines.tuning.search_params import (
    RoundPruningParams,
    SearchParams,
    SearchRange,
    parsed_range,
)

TPE = {"strategy": "tpe", "n_combinations": 4}


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({"pruning": "median"}, "search.pruning 'median' needs an adaptive strategy"),
        ({"start": "cheap"}, "search.start 'cheap' chooses an adaptive strategy's"),
        ({**TPE, "start": "first"}, "start\n  Input should be 'sampler', 'cheap' or 'portfolio'"),
        ({"n_combinations": 3}, "budget an adaptive strategy"),
        ({"strategy": "tpe"}, "needs a budget: set search.n_combinations"),
        ({**TPE, "n_combinations": 0}, "greater than or equal to 1"),
        ({**TPE, "startup_trials": 0}, "startup_trials\n  Input should be greater than or equal"),
        ({"round_pruning": "hyperband"}, "rule\n  Input should be 'none' or 'asha'"),
        ({"round_pruning": {"rule": "asha", "eta": 1}}, "eta\n  Input should be greater than 1"),
        (
            {"round_pruning": {"rule": "asha", "min_rounds": 0}},
            "min_rounds\n  Input should be greater than or equal to 1",
        ),
        ({"round_pruning": {"rule": "asha", "etta": 2}}, r"unknown key\(s\) \['etta'\]"),
    ],
)
def test_bad_search_settings_are_refused_in_one_line(search, message):
    with pytest.raises(ValidationError, match=message) as caught:
        SearchParams.model_validate(search)
    assert caught.value.error_count() == 1


def test_defaults_are_the_grid_unpruned_and_a_rule_alone_is_short_for_its_settings():
    search = SearchParams()
    assert (search.strategy, search.pruning, search.adaptive) == ("grid", "none", False)
    assert not search.round_pruning.active
    assert SearchParams.model_validate({"round_pruning": "asha"}).round_pruning == (
        RoundPruningParams(rule="asha")
    )
    assert SearchParams.model_validate({**TPE, "startup_trials": 3}).startup_trials == 3


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"low": 7.5, "high": 63, "int": True},
            "grid.num_leaves range: an int range needs integer",
        ),
        ({"low": 0, "high": 1, "log": True}, "grid.num_leaves range: a log range needs low > 0"),
        ({"low": 5, "high": 5}, "grid.num_leaves range: a range needs low < high"),
        ({"low": 1, "high": 5, "step": 2}, r"grid.num_leaves range: unknown key\(s\) \['step'\]"),
    ],
)
def test_a_bad_range_names_its_axis(values, message):
    with pytest.raises(ValueError, match=message):
        parsed_range("num_leaves", values)


def test_a_range_gives_its_ends_as_a_trial_would_get_them():
    assert parsed_range("num_leaves", {"low": 7, "high": 63, "int": True}).ends() == [7, 63]
    rate = SearchRange(low=0.01, high=0.3, log=True)
    assert rate.ends() == [0.01, 0.3]
    assert rate.described() == {"low": 0.01, "high": 0.3, "log": True, "int": False}
