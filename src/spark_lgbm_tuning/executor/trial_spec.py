"""What a trial is, as the driver plans it and the executor runs it: `TrialSpec`, the result
row's fields, the boosting runs a task's trials share, the benchmark's levers.

Plain data and pure functions (no LightGBM, no Spark): the driver's planning imports this
without the executor's libraries; `trial.py` runs what it describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spark_lgbm_tuning.vocabulary.lightgbm_params import METRICS, ParamValue
from spark_lgbm_tuning.vocabulary.trial_columns import COMBO_ID, STATUS

# Optimisations the benchmark switches off one at a time to measure what each saves
# (tools/benchmark.py --lever NAME). A search passes the names it switches off explicitly, in
# `TrialSpec.disabled_levers`; normal runs switch none off.
LEVERS = (
    # Score from the validation predictions LightGBM keeps while boosting, not a second predict.
    "validation_scores",
    # A reused Python worker keeps each loaded fold; off: every task reloads its fold's files.
    "fold_cache",
    # LightGBM threads = spark.task.cpus; off: LightGBM's default (every core of the host).
    "thread_match",
    # Trials that differ only in num_boost_round share one boosting run; off: one run each
    # (read by the driver's task planning, pipelines/tuning/tasks.py).
    "shared_rounds",
    # Tasks start longest first (train rows x rounds), so the last task is a short one (driver).
    "longest_first",
    # Short boosting runs of one fold share one Spark task (a pack), so the per-job overhead is
    # paid once per pack; off: one task per boosting run (driver, pipelines/tuning/tasks.py).
    "pack_short_trials",
)


def check_levers(names: frozenset[str]) -> frozenset[str]:
    """`names` when every one is a lever, else a ValueError naming the unknown ones."""
    unknown = sorted(set(names) - set(LEVERS))
    if unknown:
        raise ValueError(f"Unknown levers {unknown}; known: {list(LEVERS)}")
    return frozenset(names)


# The one definition of a result row: trial_id, combo_id, fold_id, then these measured columns
# with their types (`bool`, `int` 32-bit, `long`, `double`, `string`, `timestamp`). The driver
# adds param_<name> and params_json from the trial's spec when it stores a row
# (pipelines/tuning/results.py).
ID_FIELDS = {"trial_id": "string", COMBO_ID: "string", "fold_id": "int"}
RESULT_FIELDS: dict[str, str] = {
    STATUS: "string",
    "error": "string",
    **dict.fromkeys(METRICS, "double"),
    "best_iteration": "int",
    "n_train": "long",
    "n_test": "long",
    "data_load_s": "double",
    "fit_s": "double",
    "predict_s": "double",
    "peak_rss_mb": "double",
    "cpu_utilisation": "double",
    "executor_id": "string",
    "host": "string",
    "started_at": "timestamp",
    "ended_at": "timestamp",
    "classification_report": "string",
    # Round-wise pruning (TrialSpec.rungs): LightGBM's name of the validation metric noted at the
    # rungs, its value at each rung round the run reached (JSON {"round": value}), and the rung
    # round a pruned trial stopped at (status "pruned"; its metrics are scored at that stop).
    "rung_metric": "string",
    "rung_scores": "string",
    "pruned_at_round": "int",
}
# What a trial returns besides RESULT_FIELDS, never in their rows (they are big): its test
# part's predictions (P(class 1) for classification; None unless ok) and the test part's metric
# per boosting round ({metric: values}; empty with fixed rounds, which evaluate no metric). The
# driver keeps them for the leading combinations only (pipelines/tuning/predictions.py), in
# memory and in the trial store's outputs files (datasets/trial_outputs.py).
TEST_PREDICTIONS = "test_predictions"
LEARNING_CURVE = "learning_curve"


@dataclass
class TrialSpec:
    """One trial, from the search space's expansion to the executor and back; picklable.

    Built once per trial (pipelines/tuning/search_space.py); the driver adds the thread count,
    the shipped file names and the levers before the trial runs.
    """

    trial_id: str
    combo_id: str
    fold_id: int
    task: str
    # The full LightGBM parameters (fixed + grid); never a round count, which LightGBM would read
    # as num_iterations. The driver adds num_threads (spark.task.cpus) before the trial runs.
    params: dict[str, Any]
    # This trial's grid combination (num_boost_round included when it is a grid axis).
    grid_values: dict[str, ParamValue]
    # Boosting rounds (the cap, with early stopping).
    num_boost_round: int
    # Rounds without improvement of the test part's metric before stopping; None or 0: fixed
    # rounds (the test part is then only scored, at num_boost_round).
    early_stopping_rounds: int | None
    # Digest of the Dataset parameters: trials with equal keys share one binned fold.
    dataset_key: str = ""
    # Digest of the fold's data (in trial_id, so changed data never reuses a result).
    fold_fingerprint: str = ""
    # Train and test rows of the fold: with num_boost_round, the work estimate that orders tasks.
    n_train: int | None = None
    n_test: int | None = None
    # Names (SparkFiles basenames) of the shipped fold files; None when run on local arrays.
    train_file: str | None = None
    # The test part binned with the train part's bins (a LightGBM binary).
    valid_file: str | None = None
    test_x_file: str | None = None
    test_y_file: str | None = None
    run_token: str | None = None
    # Wall-time limit of the boosting run in seconds (TrialTimer); None: no limit.
    timeout_s: float | None = None
    # Optimisations switched off (LEVERS), for the benchmark; empty in normal runs.
    disabled_levers: frozenset[str] = frozenset()
    # Round-wise pruning: the rung rounds at which the run notes its validation metric, and the
    # thresholds of this fold its task carries, (rung round, threshold): the run stops at a rung
    # where its metric is worse (scoring.RungPruner). Both empty: no rungs, no pruning.
    rungs: tuple[int, ...] = ()
    rung_thresholds: tuple[tuple[int, float], ...] = ()


def boosting_run_key(spec: TrialSpec) -> tuple[Any, ...]:
    """What trials sharing one boosting run have in common: all but num_boost_round."""
    return (
        spec.fold_id,
        spec.task,
        spec.params,
        spec.early_stopping_rounds,
        spec.train_file,
        spec.valid_file,
        spec.test_x_file,
        spec.test_y_file,
    )


def boosting_runs(specs: list[TrialSpec]) -> list[list[TrialSpec]]:
    """A task's trials split into its boosting runs: neighbours with equal run keys share one,
    unless the lever `shared_rounds` is off (then each trial is its own run)."""
    runs: list[list[TrialSpec]] = []
    for spec in specs:
        shared = "shared_rounds" not in spec.disabled_levers
        if runs and shared and boosting_run_key(runs[-1][-1]) == boosting_run_key(spec):
            runs[-1].append(spec)
        else:
            runs.append([spec])
    return runs
