"""Your own table at scale: preparation's wall and the driver's peak memory, scoring's rate.

    python -m tools.input_benchmark --rows 1000000 5000000 --features 50

For each size it writes one mixed table (numeric features with missing values, string
categorical features of 5 to 1,000 categories, a string label) as parquet, then measures, each
in a fresh process so that its peak resident memory is its own:

- preparation from a pandas parquet input (`prepare_table` + `cut_folds`: what `kedro run`
  does with a `pandas.ParquetDataset` input_table);
- preparation from a Spark table (`prepare_input` on `spark.read.parquet`, local[N]): the driver
  Python's peak and the JVM's resident memory at the end;
- scoring: the refit-style model (trained once on 100k rows) applied to every row, by
  `Scorer.score` on the driver with one LightGBM thread and with every core, and by the scoring
  node's `mapInPandas` on local[N] (one thread per task): rows per second per core.

Writes docs/benchmarks/<tag>.{md,json}. Run it alone on the machine (2 cores here).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

CATEGORICAL_SHARE = 0.2  # 10 of 50 features
CARDINALITIES = (5, 20, 100, 1000)
COLUMNS = {
    "target": "label",
    "positive_class": "yes",
    "feature_prefix": None,
    "exclude": ["id"],
    "time": None,
}


def write_table(rows: int, features: int, path: Path, seed: int = 0) -> None:
    """A mixed table as users bring them, written in row groups to bound this process."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    n_categorical = int(features * CATEGORICAL_SHARE)
    writer = None
    chunk = 500_000
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        columns: dict[str, Any] = {"id": np.arange(start, start + n)}
        signal = np.zeros(n)
        for index in range(features - n_categorical):
            values = rng.normal(size=n).astype(np.float32)
            if index < 5:
                signal += values
            values[rng.random(n) < 0.02] = np.nan
            columns[f"x{index}"] = values
        for index in range(n_categorical):
            cardinality = CARDINALITIES[index % len(CARDINALITIES)]
            codes = rng.integers(0, cardinality, n)
            signal += (codes % 3 == 0) * 0.3
            columns[f"c{index}"] = np.char.add("v", codes.astype(str)).astype(object)
        noisy = signal + rng.normal(scale=1.0, size=n)
        columns["label"] = np.where(noisy > np.median(noisy), "yes", "no").astype(object)
        table = pa.Table.from_pandas(pd.DataFrame(columns), preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _columns():
    from spark_lgbm_tuning.vocabulary.columns import ColumnParams  # noqa: PLC0415

    return ColumnParams.model_validate(COLUMNS)


def _folds():
    from spark_lgbm_tuning.pipelines.preparation.folds import FoldParams  # noqa: PLC0415

    return FoldParams(kind="stratified", n_splits=4)


def measure_pandas(path: str, cores: int) -> dict[str, Any]:
    from spark_lgbm_tuning.pipelines.preparation.folds import cut_folds  # noqa: PLC0415
    from spark_lgbm_tuning.pipelines.preparation.table import prepare_table  # noqa: PLC0415

    started = time.perf_counter()
    table = pd.read_parquet(path)
    read_s = time.perf_counter() - started
    model_input, _ = prepare_table(table, _columns(), "classification")
    del table
    cut_folds(model_input, _folds(), _columns())
    return {
        "read_s": read_s,
        "wall_s": time.perf_counter() - started,
        "driver_peak_rss_mb": peak_rss_mb(),
    }


def _session(cores: int):
    from pyspark.sql import SparkSession  # noqa: PLC0415

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master(f"local[{cores}]")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "10g")
        # toPandas of millions of rows exceeds Spark's default 1g of collected results.
        .config("spark.driver.maxResultSize", "0")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # conf/base/spark.yml's batch size for scoring's mapInPandas
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "100000")
        .getOrCreate()
    )


def _jvm_rss_mb() -> float | None:
    import psutil  # noqa: PLC0415

    children = psutil.Process().children(recursive=True)
    java = [child for child in children if "java" in child.name()]
    return java[0].memory_info().rss / 2**20 if java else None


def measure_spark(path: str, cores: int) -> dict[str, Any]:
    from spark_lgbm_tuning.pipelines.preparation.folds import cut_folds  # noqa: PLC0415
    from spark_lgbm_tuning.pipelines.preparation.nodes import prepare_input  # noqa: PLC0415

    spark = _session(cores)
    started = time.perf_counter()
    model_input, _ = prepare_input(spark.read.parquet(path), _columns(), "classification")
    cut_folds(model_input, _folds(), _columns())
    wall = time.perf_counter() - started
    result = {"wall_s": wall, "driver_peak_rss_mb": peak_rss_mb(), "jvm_rss_mb": _jvm_rss_mb()}
    spark.stop()
    return result


def _model(path: str) -> tuple[str, dict[str, Any]]:
    """A model trained as the refit is (categorical features by position) on 100k rows."""
    import lightgbm as lgb  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    from spark_lgbm_tuning.executor.encoding import InputEncoding  # noqa: PLC0415
    from spark_lgbm_tuning.executor.fold_data import bin_train_part  # noqa: PLC0415
    from spark_lgbm_tuning.pipelines.preparation.table import prepare_table  # noqa: PLC0415
    from spark_lgbm_tuning.vocabulary.features import feature_matrix  # noqa: PLC0415

    sample = next(pq.ParquetFile(path).iter_batches(batch_size=100_000)).to_pandas()
    model_input, payload = prepare_table(sample, _columns(), "classification")
    encoding = InputEncoding.from_dict(payload)
    x = feature_matrix(model_input, list(encoding.features))
    positions = ",".join(map(str, encoding.categorical_indices()))
    params = {"objective": "binary", "verbosity": -1, "num_leaves": 63}
    params["categorical_feature"] = positions
    train = bin_train_part(x, model_input["label"].to_numpy(), params)
    train.set_feature_name(list(encoding.features))
    booster = lgb.train(params, train, num_boost_round=200)
    return booster.model_to_string(), payload


def measure_scoring(path: str, cores: int) -> dict[str, Any]:
    from spark_lgbm_tuning.executor.encoding import InputEncoding  # noqa: PLC0415
    from spark_lgbm_tuning.executor.predict import Scorer  # noqa: PLC0415
    from spark_lgbm_tuning.pipelines.scoring.nodes import score_table  # noqa: PLC0415

    text, payload = _model(path)
    encoding = InputEncoding.from_dict(payload)
    table = pd.read_parquet(path)
    rows = len(table)
    result: dict[str, Any] = {"rows": rows}
    for threads in (1, cores):
        scorer = Scorer(text, encoding, "classification", num_threads=threads)
        started = time.perf_counter()
        scorer.score(table)
        seconds = time.perf_counter() - started
        result[f"driver_pandas_{threads}_thread_s"] = seconds
        result[f"driver_pandas_{threads}_thread_rows_per_s_per_core"] = rows / seconds / threads
    del table
    spark = _session(cores)
    frame = spark.read.parquet(path)
    started = time.perf_counter()
    # The scoring node's job (schema checks, mapInPandas); noop write runs it to the end.
    scored = score_table(frame, text, payload, "classification", 0.5)
    scored.write.format("noop").mode("overwrite").save()
    seconds = time.perf_counter() - started
    result["spark_map_in_pandas_s"] = seconds
    result["spark_map_in_pandas_rows_per_s_per_core"] = rows / seconds / cores
    result.update(_measure_spark_udf(spark, frame, text, encoding, cores))
    spark.stop()
    result["ratio_spark_per_core_vs_driver_1_thread"] = (
        result["spark_map_in_pandas_rows_per_s_per_core"]
        / result["driver_pandas_1_thread_rows_per_s_per_core"]
    )
    return result


MEASURES = {"pandas": measure_pandas, "spark": measure_spark, "scoring": measure_scoring}


def _measure_spark_udf(spark, frame, text: str, encoding, cores: int) -> dict[str, float]:
    """MLflow's `pyfunc.spark_udf` on the same model, for comparison: it takes the model's
    numeric inputs, so the table is encoded first (untimed, written as parquet) and only the
    UDF's own pass is timed; our mapInPandas above encodes and predicts in one pass."""
    import lightgbm as lgb  # noqa: PLC0415
    import mlflow.lightgbm  # noqa: PLC0415
    import mlflow.pyfunc  # noqa: PLC0415
    from pyspark.sql import types as T  # noqa: PLC0415

    from spark_lgbm_tuning.executor.encoding import encoded_matrix  # noqa: PLC0415

    features = list(encoding.features)
    schema = T.StructType([T.StructField(name, T.FloatType()) for name in features])

    def encode(batches):
        for batch in batches:
            yield pd.DataFrame(encoded_matrix(batch, encoding), columns=features)

    with tempfile.TemporaryDirectory(prefix="spark_udf_") as folder:
        encoded_path = f"{folder}/encoded.parquet"
        frame.mapInPandas(encode, schema).write.parquet(encoded_path)
        model_path = f"{folder}/model"
        mlflow.lightgbm.save_model(lgb.Booster(model_str=text), model_path)
        predict = mlflow.pyfunc.spark_udf(
            spark, model_uri=model_path, result_type="double", env_manager="local"
        )
        encoded = spark.read.parquet(encoded_path)
        rows = encoded.count()
        started = time.perf_counter()
        scored = encoded.withColumn("prediction", predict(*features))
        scored.write.format("noop").mode("overwrite").save()
        seconds = time.perf_counter() - started
    return {
        "spark_udf_s": seconds,
        "spark_udf_rows_per_s_per_core": rows / seconds / cores,
    }


def _child(kind: str, path: str, cores: int) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter (its own peak memory)."""
    command = [sys.executable, "-m", "tools.input_benchmark", "--measure", kind, "--path", path]
    run = subprocess.run(
        [*command, "--cores", str(cores)], capture_output=True, text=True, check=False, timeout=3600
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    if run.returncode or not lines:
        causes = [
            line for line in run.stderr.splitlines() if "Exception" in line or "Error" in line
        ]
        raise RuntimeError(f"{kind} at {path} failed: {causes[:3]}\n{run.stderr[-2000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Your own table at scale: preparation and scoring",
        "",
        f"`{report['command']}`, {report['created_at']}, {report['cores']} cores, "
        f"load before {report['load_before']}.",
        "",
        "| rows x features | input | preparation wall s | driver peak RSS MB | JVM RSS MB |",
        "|---|---|---:|---:|---:|",
    ]
    for size in report["sizes"]:
        label = f"{size['rows']:,} x {size['features']}"
        pandas_run, spark_run = size["pandas"], size["spark"]
        lines.append(
            f"| {label} | parquet (pandas) | {pandas_run['wall_s']:.1f} | "
            f"{pandas_run['driver_peak_rss_mb']:.0f} | |"
        )
        lines.append(
            f"| {label} | Spark table | {spark_run['wall_s']:.1f} | "
            f"{spark_run['driver_peak_rss_mb']:.0f} | {spark_run['jvm_rss_mb'] or 0:.0f} |"
        )
    lines += [
        "",
        "| rows | driver predict, 1 thread (rows/s/core) | driver, all cores (rows/s/core) | "
        "mapInPandas, encoding included (rows/s/core) | MLflow spark_udf on encoded rows "
        "(rows/s/core) | ratio mapInPandas / driver 1 thread |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    cores = report["cores"]
    for size in report["sizes"]:
        scoring = size["scoring"]
        lines.append(
            f"| {scoring['rows']:,} | {scoring['driver_pandas_1_thread_rows_per_s_per_core']:,.0f}"
            f" | {scoring[f'driver_pandas_{cores}_thread_rows_per_s_per_core']:,.0f} | "
            f"{scoring['spark_map_in_pandas_rows_per_s_per_core']:,.0f} | "
            f"{scoring['spark_udf_rows_per_s_per_core']:,.0f} | "
            f"{scoring['ratio_spark_per_core_vs_driver_1_thread']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.input_benchmark")
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--tag", default="input-preparation")
    parser.add_argument("--out-dir", type=Path, default=Path("docs/benchmarks"))
    parser.add_argument("--measure", choices=sorted(MEASURES), help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:  # one measurement, in the process _child started
        print("RESULT", json.dumps(MEASURES[args.measure](args.path, args.cores)))  # noqa: T201
        return 0
    report: dict[str, Any] = {
        "command": " ".join(["python -m tools.input_benchmark", *(argv or sys.argv[1:])]),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": args.cores,
        "load_before": [round(value, 2) for value in os.getloadavg()],
        "sizes": [],
    }
    with tempfile.TemporaryDirectory(prefix="input_benchmark_") as folder:
        for rows in args.rows:
            path = Path(folder) / f"table_{rows}.parquet"
            write_table(rows, args.features, path)
            size = {"rows": rows, "features": args.features, "file_mb": path.stat().st_size / 2**20}
            for kind in ("pandas", "spark", "scoring"):
                size[kind] = _child(kind, str(path), args.cores)
                print(kind, rows, size[kind], flush=True)  # noqa: T201 - a tool's progress
            report["sizes"].append(size)
            path.unlink()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{args.tag}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out_dir / f"{args.tag}.md").write_text(_markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
