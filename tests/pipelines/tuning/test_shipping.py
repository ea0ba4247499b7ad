"""Shipping the folds: each (fold, Dataset params) binned once, in the order jobs need them."""

from __future__ import annotations

import dataclasses
import logging

from spark_lgbm_tuning.pipelines.tuning import search_space, shipping
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows
from spark_lgbm_tuning.pipelines.tuning.nodes import expand_search_space, run_trials
from spark_lgbm_tuning.pipelines.tuning.tasks import plan_tasks
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from tests.pipelines.tuning.data import tuning_params

COLUMNS = ColumnParams()


def test_each_fold_is_binned_once_in_the_order_the_jobs_need_it(spark, data, folds, caplog):
    """Longest first: the largest fold is binned (and its jobs can start) before the others."""
    params = tuning_params(grid={"num_leaves": [7, 15], "max_bin": [15, 63]})
    trials = expand_search_space(data, folds, params, COLUMNS)
    arrays = FoldArrays(data, fold_rows(folds, None, len(data)), COLUMNS)
    workdir = shipping.shipping_dir(spark.sparkContext.applicationId)
    specs = search_space.specs_from_table(trials, params)
    groups = plan_tasks(specs)
    shipper = shipping.FoldShipper(spark.sparkContext.addFile, arrays, specs, workdir)
    with caplog.at_level(logging.INFO, logger=shipping.__name__):
        shipper.start(groups)
        prepared = [shipper.prepare(group) for group in groups]
        shipper.close()
    binaries = sorted(path.name for path in workdir.glob("*.bin"))

    shipped = [
        int(record.getMessage().split()[1].rstrip(":"))
        for record in caplog.records
        if "binned and shipped" in record.getMessage()
    ]
    assert shipped == [2, 2, 1, 1, 0, 0]  # fold 2 has the most train rows
    assert len(binaries) == 12  # train and test part x 3 folds x 2 max_bin values
    for group, (ready, failed) in zip(groups, prepared, strict=True):
        assert failed == []
        assert [spec.trial_id for spec in ready] == [spec.trial_id for spec in group]
        for spec in ready:
            assert f"_fold{spec.fold_id}_train_" in spec.train_file
            assert spec.train_file in binaries
            assert spec.valid_file == spec.train_file.replace("_train_", "_valid_")
            assert spec.valid_file in binaries
            assert spec.test_x_file.endswith(f"_fold{spec.fold_id}_test_x.npy")

    # No task fetched those files (as after an interrupt): the executor fetches them at its
    # next task, so their sources must outlive the search or the next search fails.
    rows = run_trials(data, folds, trials, params, COLUMNS)[0]
    assert (rows["status"] == "ok").all()


def test_a_fold_lightgbm_cannot_bin_fails_its_trials_not_the_search(spark, data, folds):
    params = tuning_params(grid={"num_leaves": [7], "max_bin": [63]})
    specs = search_space.expand(FoldArrays(data, fold_rows(folds, [0], len(data)), COLUMNS), params)
    specs = [dataclasses.replace(spec, params={**spec.params, "max_bin": 1}) for spec in specs]
    workdir = shipping.shipping_dir(spark.sparkContext.applicationId)
    arrays = FoldArrays(data, fold_rows(folds, [0], len(data)), COLUMNS)
    shipper = shipping.FoldShipper(spark.sparkContext.addFile, arrays, specs, workdir)
    try:
        ready, failed = shipper.prepare(specs)
    finally:
        shipper.close()

    assert ready == []
    assert [row["trial_id"] for row in failed] == [spec.trial_id for spec in specs]
    assert failed[0]["status"] == "failed" and "max_bin" in failed[0]["error"]
    assert list(workdir.glob("*.bin")) == []


def test_shipping_dirs_outlive_their_search_until_the_context_changes(spark, tmp_path):
    first = shipping.shipping_dir(spark.sparkContext.applicationId)
    second = shipping.shipping_dir(spark.sparkContext.applicationId)
    assert first.is_dir() and second.is_dir() and first != second
    shipping.SHIPPED_DIRS["an-older-app"] = [tmp_path / "old"]
    (tmp_path / "old").mkdir()
    shipping.shipping_dir(spark.sparkContext.applicationId)
    assert not (tmp_path / "old").exists() and first.is_dir()
