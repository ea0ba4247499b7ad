"""The trial's description: boosting runs a task's trials share, the benchmark's levers."""

from __future__ import annotations

import dataclasses

import pytest

from spark_lgbm_tuning.executor import trial_spec
from tests.executor.test_trial import _params, _spec


def test_trials_differing_only_in_rounds_share_one_run_unless_the_lever_is_off():
    spec = _spec(_params())
    caps = [dataclasses.replace(spec, num_boost_round=n) for n in (20, 60)]
    other = dataclasses.replace(spec, params=_params(num_leaves=15))
    assert [len(run) for run in trial_spec.boosting_runs([*caps, other, spec])] == [2, 1, 1]


def test_without_shared_rounds_each_trial_of_a_task_is_its_own_run():
    spec = _spec(_params(), disabled_levers=frozenset({"shared_rounds"}))
    caps = [dataclasses.replace(spec, num_boost_round=n) for n in (20, 60)]
    assert [len(run) for run in trial_spec.boosting_runs(caps)] == [1, 1]
    assert [len(run) for run in trial_spec.boosting_runs([_spec(_params())] * 2)] == [2]


def test_unknown_levers_are_refused():
    assert trial_spec.check_levers(frozenset({"fold_cache"})) == {"fold_cache"}
    with pytest.raises(ValueError, match=r"Unknown levers \['no_such_lever'\]"):
        trial_spec.check_levers(frozenset({"validation_scores", "no_such_lever"}))
