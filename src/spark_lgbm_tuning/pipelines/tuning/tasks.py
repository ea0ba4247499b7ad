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


# The share of a by-combination plan (the last groups) that runs longest first again, so that a
# long fold of the last combinations does not run alone at the end. In an offline list-scheduling
# simulation (54 combinations x 4 folds, durations unknown to the plan varying per combination)
# the makespan grew by 11 % on 16 slots without it and by 4 % with it (under 0.5 % on 2-4 slots
# either way), while half of the combinations still finished by about half of the makespan.
LONGEST_FIRST_TAIL = 0.3


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
    combinations finish early and each fold's rung thresholds build up as they go; the last
    LONGEST_FIRST_TAIL of the groups run longest first again. Levers `shared_rounds` and
    `longest_first` (trial.LEVERS) switch either off for the benchmark.
    """
    groups: dict[str, list[TrialSpec]] = {}
    for index, spec in enumerate(specs):
        key = str(index) if "shared_rounds" in disabled_levers else _shared_run_key(spec)
        groups.setdefault(key, []).append(spec)
    planned = [sorted(group, key=lambda spec: spec.num_boost_round) for group in groups.values()]
    if "longest_first" in disabled_levers:
        return planned
    if not by_combination:
        return sorted(planned, key=lambda group: -_work(group))
    combo_work: dict[str, int] = {}
    for group in planned:
        combo_work[group[0].combo_id] = combo_work.get(group[0].combo_id, 0) + _work(group)
    planned.sort(
        key=lambda group: (-combo_work[group[0].combo_id], group[0].combo_id, -_work(group))
    )
    head = len(planned) - int(len(planned) * LONGEST_FIRST_TAIL)
    return planned[:head] + sorted(planned[head:], key=lambda group: -_work(group))
