"""Result records: one schema for tuning_results and the trial store, reuse of stored rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from spark_lgbm_tuning.datasets.atomic_parquet import AtomicParquetDataset
from spark_lgbm_tuning.executor import trial_spec
from spark_lgbm_tuning.executor.trial_spec import TrialSpec
from spark_lgbm_tuning.pipelines.tuning import results
from tests.pipelines.tuning.data import tuning_params

PARAMS = tuning_params(grid={"num_leaves": [7, 15], "learning_rate": [0.1, 0.2]})


def _spec(trial_id: str = "t1", **grid) -> TrialSpec:
    values = {"num_leaves": 7, "learning_rate": 0.1, **grid}
    return TrialSpec(
        trial_id=trial_id,
        combo_id="c1",
        fold_id=2,
        task="classification",
        params={"objective": "binary", **values, "num_threads": 2},
        grid_values=values,
        num_boost_round=30,
        early_stopping_rounds=5,
    )


def _row(spec: TrialSpec, status: str = "ok", **measured) -> dict:
    row = {**dict.fromkeys(trial_spec.RESULT_FIELDS), "trial_id": spec.trial_id, "status": status}
    row.update(fit_s=1.5, auc_roc=0.8, started_at=datetime(2026, 1, 1, tzinfo=UTC), **measured)
    return row


def test_a_record_takes_ids_and_parameters_from_its_spec_and_measurements_from_its_row():
    spec = _spec()
    record = results.result_record(spec, _row(spec, combo_id="not this one"))

    assert list(record) == list(results.result_fields(PARAMS))
    assert record["combo_id"] == "c1" and record["fold_id"] == 2
    assert (record["param_num_leaves"], record["param_learning_rate"]) == (7, 0.1)
    assert json.loads(record["params_json"])["num_threads"] == 2
    assert record["fit_s"] == 1.5 and record["status"] == "ok"
    stored = results.store_record(record, timeout_s=3.0)
    assert not any(name.startswith("param_") for name in stored)
    assert stored["trial_timeout_s"] == 3.0 and stored["params_json"] == record["params_json"]


def test_the_schema_follows_the_grid_and_keeps_ids_and_status_required():
    schema = results.result_schema(PARAMS)

    assert schema.names[:5] == [
        "trial_id",
        "combo_id",
        "fold_id",
        "param_num_leaves",
        "param_learning_rate",
    ]
    assert str(schema.field("param_num_leaves").type) == "int64"
    assert str(schema.field("param_learning_rate").type) == "double"
    assert str(schema.field("fold_id").type) == "int32"
    assert str(schema.field("started_at").type) == "timestamp[ns]"
    required = {field.name for field in schema if not field.nullable}
    assert required == {"trial_id", "combo_id", "fold_id", "params_json", "status"}


def test_stored_rows_are_reused_only_when_final_for_these_parameters():
    specs = [_spec("ok"), _spec("failed"), _spec("short", num_leaves=15), _spec("long")]
    stored = pd.DataFrame(
        [
            {**results.store_record(results.result_record(spec, _row(spec, status)), limit)}
            for spec, status, limit in [
                (specs[0], "ok", None),
                (specs[1], "failed", None),
                (specs[2], "timed_out", 1.0),
                (specs[3], "timed_out", 5.0),
            ]
        ]
    )
    stored["params_json"] = stored["params_json"].str.replace(
        '"num_threads": 2', '"num_threads": 1'
    )

    reused = results.reusable_records(
        stored, specs, PARAMS.model_copy(update={"trial_timeout_s": 2.0})
    )

    assert sorted(reused) == ["failed", "long", "ok"]
    # A reused trial keeps the parameters it ran with; its param_<name> follow its spec.
    assert json.loads(reused["ok"]["params_json"])["num_threads"] == 1
    assert reused["ok"]["param_num_leaves"] == 7
    assert results.reusable_records(stored, specs, PARAMS).keys() == {"ok", "failed"}
    assert results.reusable_records(stored.iloc[:0], specs, PARAMS) == {}


def test_a_trial_pruned_at_a_rung_is_reused_as_pruned_a_pruned_fold_as_ok():
    fold, rung = _spec("fold"), _spec("rung", num_leaves=15)
    stored = pd.DataFrame(
        [
            results.store_record(results.result_record(spec, _row(spec, "pruned", **row)), None)
            for spec, row in [(fold, {}), (rung, {"pruned_at_round": 10})]
        ]
    )

    reused = results.reusable_records(stored, [fold, rung], PARAMS)

    assert reused["fold"]["status"] == "ok"
    assert (reused["rung"]["status"], reused["rung"]["pruned_at_round"]) == ("pruned", 10)


def test_the_results_frame_converts_stored_values_to_the_schema():
    spec = _spec()
    record = results.result_record(spec, _row(spec, best_iteration=float("nan")))
    record["param_num_leaves"] = pd.NA  # as a parquet round trip hands a missing value back
    [row] = results.results_frame([record], PARAMS).to_dict("records")

    assert pd.isna(row["best_iteration"]) and pd.isna(row["param_num_leaves"])
    assert row["fit_s"] == pytest.approx(1.5)
    assert row["started_at"] == pd.Timestamp("2026-01-01 00:00:00")  # naive UTC


def _records() -> list[dict]:
    ok, failed = _spec("ok"), _spec("failed", num_leaves=15)
    records = [
        results.result_record(ok, _row(ok, best_iteration=3, n_train=10)),
        results.result_record(failed, _row(failed, "failed", error="boom")),
    ]
    records[1].update(fit_s=None, auc_roc=None)
    return records


@pytest.mark.parametrize("n_records", [1, 2], ids=["no_missing_value", "missing_values"])
def test_saved_results_read_back_as_the_spark_written_file_did(spark, tmp_path, n_records):
    """Readers of tuning_results@pandas get the dtypes and values they got from Spark's write."""
    records = _records()[:n_records]
    spark_path = str(tmp_path / "spark.parquet")
    fields = results.result_fields(PARAMS)
    spark_rows = [tuple(record.get(name) for name in fields) for record in records]
    spark.createDataFrame(spark_rows, schema=_spark_schema()).write.parquet(spark_path)
    dataset = AtomicParquetDataset(filepath=str(tmp_path / "results.parquet"))

    dataset.save(results.results_frame(records, PARAMS))

    loaded, from_spark = dataset.load(), pd.read_parquet(spark_path)
    assert loaded.dtypes.to_dict() == from_spark.dtypes.to_dict()
    pd.testing.assert_frame_equal(loaded, from_spark)


def _spark_schema():
    """The Spark schema tuning_results@spark was written with (before 2026-11)."""
    from pyspark.sql import types as T  # noqa: PLC0415 - this test's reference only

    spark_types = {
        "int32": T.IntegerType(),
        "int64": T.LongType(),
        "double": T.DoubleType(),
        "string": T.StringType(),
        "timestamp[ns]": T.TimestampType(),
        "bool": T.BooleanType(),
    }
    schema = results.result_schema(PARAMS)
    return T.StructType(
        [T.StructField(field.name, spark_types[str(field.type)], True) for field in schema]
    )
