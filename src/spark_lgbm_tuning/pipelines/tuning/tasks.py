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


def plan_tasks(
    specs: Iterable[TrialSpec], disabled_levers: frozenset[str] = frozenset()
) -> list[list[TrialSpec]]:
    """Group the trials that can share a boosting run, and order the groups longest first.

    A group's work is its fold's train rows times its largest cap; starting the longest tasks
    first keeps a long one from running alone at the end. Levers `shared_rounds` and
    `longest_first` (trial.LEVERS) switch either off for the benchmark.
    """
    groups: dict[str, list[TrialSpec]] = {}
    for index, spec in enumerate(specs):
        key = str(index) if "shared_rounds" in disabled_levers else _shared_run_key(spec)
        groups.setdefault(key, []).append(spec)
    planned = [sorted(group, key=lambda spec: spec.num_boost_round) for group in groups.values()]
    if "longest_first" not in disabled_levers:
        planned.sort(key=lambda group: -(group[0].n_train or 1) * group[-1].num_boost_round)
    return planned
