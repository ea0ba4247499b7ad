"""One reference trial boosted with the seed's `huber` objective and with `binary`: CPU seconds.

The seed's classifier trained LightGBM's `huber` regression loss (conf/reference says why we use
`binary`). To tell whether that explains the seed's much cheaper trials, boost one trial of the
reference grid both ways on the same fold, one thread, early stopping on the test part:

    python -m tools.objective_cost --fold 0 --params '{"lambda_l1": 12, "lambda_l2": 0.1,
        "max_depth": 15, "colsample_bytree": 0.3}'

Reads the project's data and folds (data_generation's outputs) from --project.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import lightgbm as lgb
import pandas as pd
import psutil

from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows
from spark_lgbm_tuning.vocabulary.columns import ColumnParams

DATA = "data/01_raw/timeseries_classification.parquet"
FOLDS = "data/05_model_input/model_folds.parquet"
# conf/reference's fixed parameters (the seed's), one thread.
SEED_FIXED = {
    "num_leaves": 2048,
    "learning_rate": 0.03,
    "max_bin": 256,
    "bagging_fraction": 1.0,
    "seed": 42,
    "verbosity": -1,
    "num_threads": 1,
    "feature_pre_filter": False,
}
OBJECTIVES = {"huber": "huber", "binary": "binary_logloss"}


def boost(arrays: FoldArrays, fold_id: int, params: dict[str, Any], rounds: int, patience: int):
    """{objective: best_iteration, cpu_s, wall_s} of one early-stopped run per objective."""
    x_train, y_train, x_test, y_test = arrays.split(fold_id)
    outcome = {}
    for objective, metric in OBJECTIVES.items():
        run_params = {**SEED_FIXED, **params, "objective": objective, "metric": metric}
        train = lgb.Dataset(x_train, y_train, params={"max_bin": run_params["max_bin"]})
        valid = lgb.Dataset(x_test, y_test, reference=train)
        process = psutil.Process()
        before = process.cpu_times()
        booster = lgb.train(
            run_params,
            train,
            rounds,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(patience, verbose=False)],
        )
        after = process.cpu_times()
        outcome[objective] = {
            "best_iteration": booster.best_iteration,
            "cpu_s": round(after.user - before.user + after.system - before.system, 2),
        }
    return outcome


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path.cwd())
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--params", type=json.loads, default={}, help="JSON: the grid values")
    parser.add_argument("--rounds", type=int, default=20_000)
    parser.add_argument("--early-stopping", type=int, default=500)
    args = parser.parse_args(argv)
    data = pd.read_parquet(args.project / DATA)
    folds = pd.read_parquet(args.project / FOLDS)
    arrays = FoldArrays(data, fold_rows(folds, [args.fold], len(data)), ColumnParams())
    outcome = boost(arrays, args.fold, args.params, args.rounds, args.early_stopping)
    print(json.dumps(outcome))  # noqa: T201 - a command-line tool's output


if __name__ == "__main__":
    main()
