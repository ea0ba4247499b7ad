"""The job scheduler: one Spark job per task group, a job past its deadline cancelled, interrupts."""

from __future__ import annotations

import dataclasses
import time

import pytest

from spark_lgbm_tuning.pipelines.tuning import scheduler, search_space, shipping
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows
from spark_lgbm_tuning.pipelines.tuning.scheduler import JobScheduler
from spark_lgbm_tuning.pipelines.tuning.spark_jobs import SparkContextJobs
from spark_lgbm_tuning.pipelines.tuning.tasks import plan_tasks
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from tests.pipelines.tuning.data import tuning_params


def test_the_driver_cancels_a_trial_its_executor_does_not_stop(spark, data, folds):
    """The backstop: no executor-side limit, a driver deadline of 1 s -> job cancelled."""
    # Trees that keep splitting on the largest fold: 100000 rounds would take minutes.
    grid = {"num_leaves": [63], "learning_rate": [0.001], "min_child_samples": [2]}
    params = tuning_params(grid=grid, num_boost_round=100_000, early_stopping_rounds=0)
    arrays = FoldArrays(data, fold_rows(folds, None, len(data)), ColumnParams())
    specs = search_space.expand(arrays, params)[-1:]
    sc = spark.sparkContext
    workdir = shipping.shipping_dir(sc.applicationId)
    specs = [dataclasses.replace(spec, run_token=workdir.name) for spec in specs]
    shipper = shipping.FoldShipper(sc.addFile, arrays, specs, workdir)
    assert specs[0].timeout_s is None
    arrived = []
    scheduler = JobScheduler(
        SparkContextJobs(sc),
        run_token=workdir.name,
        task_cpus=1,
        on_rows=lambda rows, durable: arrived.extend((row, durable) for row in rows),
        prepare=shipper.prepare,
        timeout_s=1.0,
        cancel_grace_s=0.0,
    )
    began = time.monotonic()
    stats = scheduler.run(plan_tasks(specs))
    elapsed = time.monotonic() - began
    shipper.close()

    [(row, durable)] = arrived
    assert stats.cancelled_for_timeout == 1 and durable
    assert 1.0 < elapsed < 15
    assert row["status"] == "timed_out"
    assert "the driver cancelled its Spark job" in row["error"]
    assert sc.parallelize(range(4), 2).sum() == 6  # the session is still usable


def test_an_interrupt_is_recognised_also_when_py4j_wraps_it():
    def py4j_call():
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            # What py4j does when interrupted mid-command: raises while handling the interrupt.
            raise RuntimeError("Gateway must be connected to send cancel cmd.")  # noqa: B904

    with pytest.raises(RuntimeError) as caught:
        py4j_call()
    assert scheduler._is_interrupt(caught.value)
    assert scheduler._is_interrupt(KeyboardInterrupt())
    assert not scheduler._is_interrupt(OSError("disk full"))
