"""Planning the Spark tasks of a search: trials that can share a boosting run, longest first."""

from __future__ import annotations

from collections.abc import Iterable

from spark_lgbm_tuning.hashing import stable_hash
from spark_lgbm_tuning.trial import TrialSpec


def _shared_run_key(spec: TrialSpec) -> str:
    """Trials with equal keys differ only in num_boost_round, so one boosting run serves them."""
    return stable_hash(
        [
            spec.fold_id,
            spec.task,
            spec.params,
            spec.early_stopping_rounds,
            spec.train_file,
            spec.valid_file,
            spec.test_x_file,
            spec.test_y_file,
        ]
    )


def _work(group: list[TrialSpec]) -> int:
    """A group's work estimate: its fold's train rows times its largest cap."""
    return (group[0].n_train or 1) * group[-1].num_boost_round


def plan_tasks(
    specs: Iterable[TrialSpec],
    disabled_levers: frozenset[str] = frozenset(),
    *,
    by_combination: bool = False,
) -> list[list[TrialSpec]]:
    """Group the trials that can share a boosting run, and order the groups longest first.

    A group's work is its fold's train rows times its largest cap; starting the longest tasks
    first keeps a long one from running alone at the end. `by_combination` (a grid with round
    pruning) keeps the folds of one combination together, the combinations longest first: whole
    combinations finish early and each fold's rung thresholds build up as they go, while the tail
    is still the shortest combinations. Levers `shared_rounds` and `longest_first`
    (trial.LEVERS) switch either off for the benchmark.
    """
    groups: dict[str, list[TrialSpec]] = {}
    for index, spec in enumerate(specs):
        key = str(index) if "shared_rounds" in disabled_levers else _shared_run_key(spec)
        groups.setdefault(key, []).append(spec)
    planned = [sorted(group, key=lambda spec: spec.num_boost_round) for group in groups.values()]
    if "longest_first" in disabled_levers:
        return planned
    if by_combination:
        combo_work: dict[str, int] = {}
        for group in planned:
            combo_work[group[0].combo_id] = combo_work.get(group[0].combo_id, 0) + _work(group)
        planned.sort(
            key=lambda group: (-combo_work[group[0].combo_id], group[0].combo_id, -_work(group))
        )
    else:
        planned.sort(key=lambda group: -_work(group))
    return planned
