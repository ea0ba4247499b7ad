"""The classic session's JobRunner: task slots from spark.task.cpus, the deadline's limit and
message (the scheduler's test runs it against a job that overruns)."""

from __future__ import annotations

from spark_lgbm_tuning.pipelines.tuning.spark_jobs import DeadlineWatch, task_cpus, task_slots
from tests.executor.test_trial_rounds import PARAMS, _spec


def test_task_slots_follow_spark_task_cpus(spark):
    sc = spark.sparkContext
    assert task_cpus(sc) == 1
    assert task_slots(sc, 1) == 2 and task_slots(sc, 2) == 1 and task_slots(sc, 4) == 1


def test_the_deadline_message_names_the_limit_and_the_grace(spark):
    watch = DeadlineWatch(spark.sparkContext, timeout_s=2.5, grace_s=30.0)
    caps = [_spec(cap, 5) for cap in (10, 20)]
    assert watch.message(caps) == (
        "TrialTimeoutError: no result within 32 s (trial_timeout_s=2.5 plus 30 s grace); the "
        "driver cancelled its Spark job"
    )
    # A pack of short runs (tasks.plan_tasks) may take the timeout once per run.
    pack = [*caps, _spec(10, 5, params={**PARAMS, "num_leaves": 63})]
    assert watch.limit_s(pack) == 35.0
    assert "within 35 s (trial_timeout_s=2.5 x 2 runs plus 30 s grace)" in watch.message(pack)
    assert watch.overdue([]) == []
