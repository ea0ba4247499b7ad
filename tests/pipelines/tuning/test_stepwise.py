"""search.strategy stepwise: the space's axes in the tuner's groups, the step of each proposal,
and a sampler that varies one group only."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from spark_lgbm_tuning.pipelines.tuning.stepwise import PROPOSALS_PER_AXIS, sampler, step_of, steps

SPACE = {
    "learning_rate": FloatDistribution(0.02, 0.05, log=True),
    "lambda_l1": FloatDistribution(0.1, 40.0, log=True),
    "max_depth": IntDistribution(4, 17),
    "num_leaves": IntDistribution(15, 2048, log=True),
    "colsample_bytree": FloatDistribution(0.1, 0.9),
    "boosting": CategoricalDistribution(["gbdt", "dart"]),
}


def test_axes_fall_into_the_tuners_groups_in_its_order_by_any_of_their_names():
    assert steps(SPACE) == [
        ("colsample_bytree",),  # feature_fraction's alias
        ("max_depth", "num_leaves"),
        ("lambda_l1",),
        ("learning_rate", "boosting"),  # no group: the last step
    ]
    assert steps({"min_child_samples": SPACE["max_depth"]}) == [("min_child_samples",)]


def test_each_step_takes_its_share_of_proposals_then_the_groups_come_round_again():
    plan = steps(SPACE)
    n = PROPOSALS_PER_AXIS
    assert [step_of(plan, number) for number in (0, n - 1)] == [plan[0]] * 2
    assert step_of(plan, n) == step_of(plan, 3 * n - 1) == plan[1]
    round_size = n * sum(len(group) for group in plan)
    assert step_of(plan, round_size) == plan[0]
    assert step_of(plan, round_size - 1) == plan[-1]


@pytest.mark.parametrize("number", [0, PROPOSALS_PER_AXIS])
def test_a_proposal_varies_its_steps_group_only_the_rest_at_the_best(number):
    plan = steps(SPACE)
    best = {
        "learning_rate": 0.03,
        "lambda_l1": 1.0,
        "max_depth": 8,
        "num_leaves": 63,
        "colsample_bytree": 0.5,
        "boosting": "gbdt",
    }
    study = optuna.create_study(direction="maximize")
    proposals = []
    for seed in range(5):
        study.sampler = sampler(plan, number, best, optuna.samplers.RandomSampler(seed=seed))
        trial = study.ask(SPACE)
        study.tell(trial, 0.5)
        proposals.append(trial.params)
    group = step_of(plan, number)
    for params in proposals:
        assert {axis: params[axis] for axis in best if axis not in group} == {
            axis: value for axis, value in best.items() if axis not in group
        }
    for axis in group:
        assert len({params[axis] for params in proposals}) > 1  # the group's axes vary
