"""`search.strategy: stepwise`: a few groups of axes tuned in turn, each from the best so far.

Optuna's LightGBM tuner (`optuna_integration.lightgbm.LightGBMTunerCV`) tunes feature_fraction,
then num_leaves, bagging, regularisation and min_child_samples, one group after another, each
with the others fixed at the best found so far. Here the same idea over the user's own space:
its axes fall into `GROUPS` by LightGBM's canonical names (an axis of no group joins the last
step), a step proposes `PROPOSALS_PER_AXIS` combinations per axis of its group (TPE over the
group, the other axes fixed), and after the last step the groups come round again until the
budget is spent. The best so far is the best combination that completed every fold; before any
did, the search's first proposal (search.start; with `sampler`, LightGBM's defaults fitted into
the space, the tuner's own start).

Driver only; pure but for the Optuna sampler it returns.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution

from spark_lgbm_tuning.vocabulary.lightgbm_params import aliases

# The tuner's groups in its order, by canonical name (tree shape beside num_leaves: max_depth).
GROUPS: tuple[tuple[str, ...], ...] = (
    ("feature_fraction",),
    ("num_leaves", "max_depth"),
    ("bagging_fraction", "bagging_freq"),
    ("lambda_l1", "lambda_l2", "min_gain_to_split"),
    ("min_data_in_leaf", "min_sum_hessian_in_leaf"),
)
# Proposals a step makes per axis of its group (the tuner: 5-20 per step, 7 for one axis).
PROPOSALS_PER_AXIS = 6


def steps(space: Mapping[str, BaseDistribution]) -> list[tuple[str, ...]]:
    """The space's axes grouped in the tuner's order: one step per group that has an axis, the
    axes of no group (learning_rate, max_bin, ...) as a last step."""
    grouped: list[tuple[str, ...]] = []
    placed: set[str] = set()
    for group in GROUPS:
        names = frozenset(itertools.chain.from_iterable(aliases(name) for name in group))
        axes = tuple(axis for axis in space if axis in names)
        if axes:
            grouped.append(axes)
            placed.update(axes)
    rest = tuple(axis for axis in space if axis not in placed)
    return [*grouped, rest] if rest else grouped


def step_of(plan: Sequence[tuple[str, ...]], number: int) -> tuple[str, ...]:
    """The group that proposal `number` (counted from the first after the start) tunes: each
    step takes PROPOSALS_PER_AXIS proposals per axis, then the next, round and round."""
    sizes = [PROPOSALS_PER_AXIS * len(group) for group in plan]
    number %= sum(sizes)
    for group, size in zip(plan, sizes, strict=True):
        if number < size:
            return group
        number -= size
    raise AssertionError("unreachable: number was reduced modulo the round's size")


def sampler(
    plan: Sequence[tuple[str, ...]],
    number: int,
    best: Mapping[str, Any],
    base: optuna.samplers.BaseSampler,
) -> optuna.samplers.BaseSampler:
    """Proposal `number`'s sampler: `base` over its step's group, every other axis at `best`."""
    group = step_of(plan, number)
    fixed = {axis: value for axis, value in best.items() if axis not in group}
    with warnings.catch_warnings():
        # PartialFixedSampler is marked experimental (since Optuna 2.4).
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.PartialFixedSampler(fixed, base)
