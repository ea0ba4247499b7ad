"""Planning the Spark tasks of a search: trials that can share a boosting run, longest first,
short runs of one fold packed into one task."""

from __future__ import annotations

from collections.abc import Iterable

from spark_lgbm_tuning.executor.trial_spec import TrialSpec, boosting_run_key, boosting_runs
from spark_lgbm_tuning.vocabulary.hashing import stable_hash

# Each Spark job costs the driver and the Python worker about this much besides its boosting
# (job scheduling, task launch, pickling both ways): docs/benchmarks/small.md, (`ours` minus
# `limit`) x 2 slots over 32 one-trial jobs = 0.25 s; 0.1-0.3 s per job in other runs.
JOB_OVERHEAD_S = 0.25
# Boosting work (train rows x rounds) one LightGBM thread does per second: the same benchmark's
# `limit`, 32 trials of 10,000 train rows on average x 200 rounds (20 features) in 5.9 s on 2 cores.
ROWS_ROUNDS_PER_S = 5e6
# Short runs are packed until the job overhead is this share of a pack's boosting at most.
PACK_OVERHEAD_SHARE = 0.1
# The largest estimated work of a pack (~2.5 s of boosting); longer runs keep a task each.
PACK_WORK = JOB_OVERHEAD_S / PACK_OVERHEAD_SHARE * ROWS_ROUNDS_PER_S
# Packs are kept small enough for at least this many tasks per slot, so the last tasks of a
# search stay short ones that fill every slot.
TASKS_PER_SLOT = 2


def _shared_run_key(spec: TrialSpec) -> str:
    """Trials with equal keys differ only in num_boost_round, so one boosting run serves them."""
    return stable_hash(list(boosting_run_key(spec)))


def work(task: list[TrialSpec]) -> int:
    """A task's estimated boosting work: train rows x largest cap, summed over its runs."""
    return sum((run[-1].n_train or 1) * run[-1].num_boost_round for run in boosting_runs(task))


# The share of a by-combination plan (the last groups) that runs longest first again, so that a
# long fold of the last combinations does not run alone at the end. In an offline list-scheduling
# simulation (54 combinations x 4 folds, durations unknown to the plan varying per combination)
# the makespan grew by 11 % on 16 slots without it and by 4 % with it (under 0.5 % on 2-4 slots
# either way), while half of the combinations still finished by about half of the makespan.
LONGEST_FIRST_TAIL = 0.3


def plan_tasks(
    specs: Iterable[TrialSpec],
    disabled_levers: frozenset[str] = frozenset(),
    slots: int | None = None,
    *,
    by_combination: bool = False,
) -> list[list[TrialSpec]]:
    """Group the trials that can share a boosting run, pack short runs of one fold together
    (given the task `slots`), and order the tasks longest first.

    A run's work is its fold's train rows times its largest cap; starting the longest tasks first
    keeps a long one from running alone at the end. `by_combination` (a grid with round pruning)
    keeps the folds of one combination together, the combinations longest first: whole
    combinations finish early and each fold's rung thresholds build up as they go; the last
    LONGEST_FIRST_TAIL of the groups run longest first again; such a plan is not packed. Otherwise
    runs shorter than PACK_WORK of one fold and binning share a task up to that much work (less
    when the search is too small to give every slot TASKS_PER_SLOT tasks); with `slots` None,
    every run is its own task. Levers `shared_rounds`, `longest_first` and `pack_short_trials` (trial_spec.LEVERS) switch
    each off for the benchmark.
    """
    groups: dict[str, list[TrialSpec]] = {}
    for index, spec in enumerate(specs):
        key = str(index) if "shared_rounds" in disabled_levers else _shared_run_key(spec)
        groups.setdefault(key, []).append(spec)
    planned = [sorted(group, key=lambda spec: spec.num_boost_round) for group in groups.values()]
    if "longest_first" not in disabled_levers:
        planned = _by_combination(planned) if by_combination else sorted(planned, key=_longest)
    # A plan by combination (round pruning) is not packed: each run is submitted on its own, so
    # it carries its fold's latest rung thresholds (a pack's would be those of its submission).
    if slots is not None and not by_combination and "pack_short_trials" not in disabled_levers:
        planned = _pack(planned, slots, keep_order="longest_first" in disabled_levers)
    return planned


def _longest(task: list[TrialSpec]) -> int:
    return -work(task)


def _by_combination(planned: list[list[TrialSpec]]) -> list[list[TrialSpec]]:
    """The folds of each combination together, combinations longest first; the last
    LONGEST_FIRST_TAIL of the groups longest first again."""
    combo_work: dict[str, int] = {}
    for group in planned:
        combo_work[group[0].combo_id] = combo_work.get(group[0].combo_id, 0) + work(group)
    planned = sorted(
        planned, key=lambda group: (-combo_work[group[0].combo_id], group[0].combo_id, -work(group))
    )
    head = len(planned) - int(len(planned) * LONGEST_FIRST_TAIL)
    return planned[:head] + sorted(planned[head:], key=_longest)


def _pack(runs: list[list[TrialSpec]], slots: int, keep_order: bool) -> list[list[TrialSpec]]:
    """Runs (in planned order) packed per (fold, binning): each joins its fold's open pack while
    the pack stays within the limit, else opens the next one."""
    limit = min(PACK_WORK, sum(work(run) for run in runs) / (TASKS_PER_SLOT * max(slots, 1)))
    tasks: list[list[TrialSpec]] = []
    open_packs: dict[tuple[int, str], tuple[int, int]] = {}  # key -> (task index, work)
    for run in runs:
        run_work = work(run)
        key = (run[0].fold_id, run[0].dataset_key)
        index, packed = open_packs.get(key, (-1, 0))
        if run_work >= limit or index < 0 or packed + run_work > limit:
            tasks.append(list(run))
            if run_work < limit:
                open_packs[key] = (len(tasks) - 1, run_work)
        else:
            tasks[index].extend(run)
            open_packs[key] = (index, packed + run_work)
    if not keep_order:
        tasks.sort(key=lambda task: -work(task))
    return tasks
