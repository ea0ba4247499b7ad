"""Ours in the time-to-target benchmark: real `kedro run --pipelines tuning` of a scratch copy.

The scratch project holds a copy of the project's conf/ plus a `ttt` env with the benchmark's
parameters and master, an empty `src/` (the package this process imported goes on PYTHONPATH)
and the generated data where the catalog reads it. The search space itself is written into the copy's conf/base:
a soft merge cannot turn a base list axis into a `{low, high}` range (OmegaConf refuses to merge
a list with a mapping). Each run starts from empty outputs (no trial reused) and is read back
from the catalog's `tuning_results` and `tuning_run_info`. Adaptive strategies are
`tuning.search` settings.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

import spark_lgbm_tuning
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.vocabulary.statuses import OK
from spark_lgbm_tuning.vocabulary.trial_columns import PARAM_PREFIX
from tools.ttt_figures import (
    ASHA,
    ASHA_SUFFIX,
    FEW_INFIX,
    FEW_STARTUP,
    FIRST_FOLD_SUFFIX,
    GRID,
    START_INFIXES,
    evaluations_from_results,
)
from tools.ttt_space import TttSize

logger = logging.getLogger(__name__)

ENV = "ttt"
# The folder holding the spark_lgbm_tuning package this process imported: the kedro runs import
# the same code (PYTHONPATH=/path/to/checkout/src selects a checkout for both).
PACKAGE_ROOT = Path(spark_lgbm_tuning.__file__).resolve().parents[1]
DATA_LAYERS = ("01_raw", "05_model_input", "07_model_output", "08_reporting")
INPUTS = ("model_input@pandas", "model_folds@pandas")
OUTPUTS = ("tuning_trials", "tuning_results@pandas", "tuning_run_info", "tuning_trial_store")
# Headroom of one kedro run over its search budget: Kedro and Spark start-up, expansion.
RUN_TIMEOUT_OVERHEAD_S = 600


def tuning_overrides(size: TttSize, conf: Path) -> dict[str, Any]:
    """The benchmark's `tuning` parameters over conf/base's: rounds, all folds, no reuse."""
    base = yaml.safe_load((conf / "parameters_tuning.yml").read_text())["tuning"]
    combos = math.prod(len(values) for values in size.grid.values())
    return {
        "folds": None,
        "num_boost_round": size.num_boost_round,
        "early_stopping_rounds": size.early_stopping_rounds,
        "max_trials": max(base.get("max_trials", 1000), 100 * combos * size.folds),
        "progress_interval_s": 30,
        "resume": False,
    }


def tuning_params(size: TttSize, conf: Path) -> TuningParams:
    """The grid's TuningParams as the `kedro run` will validate them (the peers' objective)."""
    base = yaml.safe_load((conf / "parameters_tuning.yml").read_text())["tuning"]
    return TuningParams.model_validate(
        {**base, **tuning_overrides(size, conf), "grid": dict(size.grid)}
    )


def search_settings(
    method: str,
    *,
    seed: int,
    budget_s: float | None,
    n_combinations: int,
    pruning: str,
    round_pruning: Mapping[str, Any],
) -> dict[str, Any]:
    """`tuning.search` for one of ours: `grid` (the defaults), `grid_asha` (the grid with
    round-wise pruning), or an adaptive strategy with a time budget (the grid's wall), a cap on
    combinations well above the grid's and fold-wise pruning (`wilcoxon`, as the Optuna peer),
    plus round-wise pruning (`round_pruning` beside rule asha) for `random_asha` / `tpe_asha`, a
    `search.start` for each START_INFIXES infix (`tpe_cheap_asha`: cheap, `tpe_portfolio_asha`:
    portfolio), and a shorter
    random start for `tpe_few_asha`; `..._asha_fold1` adds `round_pruning.rung_folds: 1`."""
    first_fold = method.endswith(FIRST_FOLD_SUFFIX)
    method = method.removesuffix(FIRST_FOLD_SUFFIX)
    variant = method.removesuffix(ASHA_SUFFIX)
    strategy = variant.removesuffix(FEW_INFIX)
    start = {}
    for infix, value in START_INFIXES.items():
        if variant.endswith(infix):
            strategy, start = variant.removesuffix(infix), {"start": value}
    if variant.endswith(FEW_INFIX):
        start = {"startup_trials": FEW_STARTUP}
    judged_on = {"rung_folds": 1} if first_fold else {}
    rounds = (
        {"round_pruning": {"rule": ASHA, **round_pruning, **judged_on}}
        if method.endswith(ASHA_SUFFIX)
        else {}
    )
    if strategy == GRID:
        return {"strategy": GRID, **rounds}
    return {
        "strategy": strategy,
        "n_combinations": n_combinations,
        "time_budget_s": None if budget_s is None else round(budget_s, 1),
        "seed": seed,
        "pruning": pruning,
        **start,
        **rounds,
    }


class ScratchProject:
    """A scratch copy of `project` that runs the tuning pipeline with the benchmark's params."""

    def __init__(self, project: Path, directory: Path, master: str) -> None:
        self.project, self.path, self.master = project, directory, master
        shutil.copytree(
            project / "conf", directory / "conf", ignore=shutil.ignore_patterns("local")
        )
        (directory / "conf" / "local").mkdir()
        (directory / "conf" / ENV).mkdir()
        for name in ("pyproject.toml", ".telemetry"):
            if (project / name).exists():
                shutil.copy(project / name, directory / name)
        # Kedro only checks that src/ exists; the package comes from PYTHONPATH (run()).
        (directory / "src").mkdir()
        for layer in DATA_LAYERS:
            (directory / "data" / layer).mkdir(parents=True, exist_ok=True)
        catalog = yaml.safe_load((directory / "conf" / "base" / "catalog.yml").read_text())
        self.locations = {
            name: directory / (catalog[name].get("filepath") or catalog[name]["path"])
            for name in (*INPUTS, *OUTPUTS)
        }

    def kedro(
        self, arguments: list[str], *, log: Path, timeout_s: float, env: Mapping[str, str] = {}
    ) -> float:
        """`kedro <arguments>` in the copy, importing this process's package; its wall seconds.
        A failure raises RuntimeError with the tail of its log."""
        environment = dict(os.environ, COLUMNS="250", **env)  # rich wraps at the terminal width
        environment.pop("SPARK_MASTER", None)  # the copy's conf says where Spark runs
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(PACKAGE_ROOT), *filter(None, [environment.get("PYTHONPATH")])]
        )
        started = time.perf_counter()
        with log.open("w") as out:
            process = subprocess.run(
                [sys.executable, "-m", "kedro", *arguments],
                cwd=self.path,
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout_s,
                check=False,
            )
        wall_s = time.perf_counter() - started
        if process.returncode:
            tail = log.read_text().splitlines()[-15:]
            raise RuntimeError(
                f"kedro {arguments[0]} exited {process.returncode}; log {log}:\n" + "\n".join(tail)
            )
        return wall_s

    def run_pipeline(self, pipeline: str, *, log: Path, timeout_s: float) -> float:
        """`kedro run --pipelines <pipeline> --env ttt` on the benchmark's master; its wall."""
        env_conf = self.path / "conf" / ENV
        (env_conf / "spark.yml").write_text(
            yaml.safe_dump({"spark.master": self.master, "spark.ui.enabled": False})
        )
        # kedro-mlflow (installed in the venv) registers its hooks in every project: no tracking
        # of the benchmark's runs, and mlflow 3 refuses its default file store unless allowed.
        (env_conf / "mlflow.yml").write_text(
            yaml.safe_dump(
                {
                    "server": {"mlflow_tracking_uri": str(self.path / "mlruns")},
                    "tracking": {"disable_tracking": {"pipelines": [pipeline]}},
                }
            )
        )
        return self.kedro(
            ["run", "--pipelines", pipeline, "--env", ENV],
            log=log,
            timeout_s=timeout_s,
            env={"MLFLOW_ALLOW_FILE_STORE": "true"},
        )

    def prepare(
        self, settings: Mapping[str, Any], *, log: Path, timeout_s: float
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """A user's table through the project's input path: `settings` (ttt_datasets.
        real_settings: the `input_table` catalog entry, `columns`, `preparation`) written into
        the `ttt` env, where the later tuning runs read them too, then `kedro run --pipelines
        preparation`; returns (model_input, model_folds) as it saved them."""
        env_conf = self.path / "conf" / ENV
        (env_conf / "catalog.yml").write_text(yaml.safe_dump(settings["catalog"]))
        (env_conf / "parameters.yml").write_text(yaml.safe_dump({"columns": settings["columns"]}))
        (env_conf / "parameters_preparation.yml").write_text(
            yaml.safe_dump({"preparation": settings["preparation"]})
        )
        self.run_pipeline("preparation", log=log, timeout_s=timeout_s)
        return (
            pd.read_parquet(self.locations["model_input@pandas"]),
            pd.read_parquet(self.locations["model_folds@pandas"]),
        )

    def write_inputs(self, data: pd.DataFrame, folds: pd.DataFrame) -> None:
        """The generated data and folds where the catalog reads them."""
        data.to_parquet(self.locations["model_input@pandas"], index=False)
        folds.to_parquet(self.locations["model_folds@pandas"], index=False)

    def run(
        self,
        space: dict[str, Any],
        tuning: dict[str, Any],
        *,
        n_folds: int,
        timeout_s: float,
        log: Path,
    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        """One `kedro run --pipelines tuning --env ttt` over `space` (the grid: lists, or
        ranges) with `tuning` overrides; returns (evaluations, run info + kedro wall)."""
        for name in OUTPUTS:
            target = self.locations[name]
            if target.is_dir():
                shutil.rmtree(target)
            target.unlink(missing_ok=True)
        base_file = self.path / "conf" / "base" / "parameters_tuning.yml"
        base = yaml.safe_load((self.project / "conf" / "base" / base_file.name).read_text())
        base["tuning"]["grid"] = space
        base_file.write_text(yaml.safe_dump(base, sort_keys=False))
        env_conf = self.path / "conf" / ENV
        (env_conf / "parameters_tuning.yml").write_text(yaml.safe_dump({"tuning": tuning}))
        kedro_wall_s = self.run_pipeline("tuning", log=log, timeout_s=timeout_s)
        results = pd.read_parquet(self.locations["tuning_results@pandas"])
        info = json.loads(self.locations["tuning_run_info"].read_text())
        table = evaluations_from_results(results, info["started_at"], n_folds)
        return table, {
            "kedro_wall_s": kedro_wall_s,
            **{key: info.get(key) for key in ("wall_s", "started_at", "n_trials", "sum_fit_s")},
            "best_combination": best_combination(results, n_folds),
        }


def best_combination(results: pd.DataFrame, n_folds: int) -> dict[str, Any]:
    """The grid values (param_<name> columns) of the best complete combination by mean AUC."""
    ok = results[results["status"] == OK]
    complete = ok.groupby("combo_id").filter(lambda combo: combo["fold_id"].nunique() == n_folds)
    if complete.empty:
        return {}
    best_id = complete.groupby("combo_id")["auc_roc"].mean().idxmax()
    row = complete[complete["combo_id"] == best_id].iloc[0]
    return {
        column.removeprefix(PARAM_PREFIX): row[column].item()
        if hasattr(row[column], "item")
        else row[column]
        for column in results.columns
        if column.startswith(PARAM_PREFIX)
    }
