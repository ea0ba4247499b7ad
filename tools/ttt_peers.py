"""The peers of the time-to-target benchmark: hyperopt SparkTrials, FLAML on Spark, Optuna alone
(fold-wise Wilcoxon pruning, or multi-fidelity: optuna-integration's LightGBM pruning callback with
Hyperband inside the boosting run).

Each evaluates a sampled config with one objective (`Objective`): the tuning's LightGBM
parameters (fixed + config, `TuningParams.lightgbm_params`), the same folds from local parquet,
the same round cap and early stopping on each fold's test part, AUC at the best iteration. Each
peer stops at its time budget, or earlier once it has reached the target and run past half of the
grid's wall (so that its best scores at 10/25/50 % of that wall are final). The libraries are
benchmark-only (the `bench` extra) and imported inside the functions: importing FLAML starts a
default SparkSession, which must not come before the benchmark's own.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from pyspark.sql import SparkSession
from sklearn.metrics import roc_auc_score

from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.vocabulary.features import categorical_features, feature_matrix
from spark_lgbm_tuning.vocabulary.lightgbm_params import METRIC_ALIASES
from tools.ttt_figures import SCORE_TOLERANCE, evaluations
from tools.ttt_space import cast, flaml_space, hyperopt_space, optuna_suggest

logger = logging.getLogger(__name__)

# The validation metric the multi-fidelity peer prunes on (Optuna's own LightGBM example's choice;
# the issue measured it there), evaluated after the metric that stops early.
PRUNING_METRIC = "auc"
# The system attribute in which LightGBMTunerCV keeps each trial's full LightGBM parameters.
TUNER_PARAMS = "lightgbm_tuner:lgbm_params"

# Fold arrays by parquet path, kept per process (a reused Spark Python worker, or Optuna's).
_FOLD_CACHE: dict[str, tuple[np.ndarray, np.ndarray, list[int]]] = {}
# flaml.default's estimator parameters -> the LightGBM names our spaces and `tuning.fixed` use;
# its n_estimators is left out: every config runs to the tuning's round cap with early stopping.
FLAML_DEFAULT_NAMES = {
    "num_leaves": "num_leaves",
    "min_child_samples": "min_child_samples",
    "learning_rate": "learning_rate",
    "colsample_bytree": "colsample_bytree",
    "reg_alpha": "lambda_l1",
    "reg_lambda": "lambda_l2",
    "max_bin": "max_bin",
}


def _arrays(path: str) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(features as the trials see them, labels, categorical feature positions) of a fold part."""
    if path not in _FOLD_CACHE:
        table = pd.read_parquet(path)
        features = [column for column in table.columns if column != "target"]
        categorical = set(categorical_features(table, features))
        _FOLD_CACHE[path] = (
            feature_matrix(table, features),
            table["target"].to_numpy(),
            [index for index, name in enumerate(features) if name in categorical],
        )
    return _FOLD_CACHE[path]


@dataclass(frozen=True)
class Objective:
    """One config on the folds, fold by fold; picklable, so it runs on Spark executors too."""

    tuning: TuningParams
    # fold_id -> (train parquet, test parquet), label column `target` (write_fold_parquet).
    paths: dict[int, tuple[str, str]]
    threads: int = 1

    @property
    def fold_ids(self) -> list[int]:
        """Smallest (first expanding) fold first: cheapest evidence first, for the pruner."""
        return sorted(self.paths)

    def fold(
        self, fold_id: int, config: dict[str, Any], pruning: Sequence[Any] = ()
    ) -> tuple[float, float]:
        """(AUC at the best iteration, seconds of binning + boosting) of `config` on one fold.

        `pruning` callbacks (e.g. Optuna's LightGBM pruning callback) see the test part's AUC
        every round; early stopping still watches only the metric the parameters name.
        """
        x_train, y_train, categorical = _arrays(self.paths[fold_id][0])
        x_test, y_test, _ = _arrays(self.paths[fold_id][1])
        params = {**self.tuning.lightgbm_params(config), "num_threads": self.threads}
        if pruning:
            params = _with_pruning_metric(params)
        callbacks = list(pruning)
        if self.tuning.early_stopping_rounds:
            # As our trials stop; with the pruning metric added, on the configured one alone.
            stop = lgb.early_stopping(
                self.tuning.early_stopping_rounds, first_metric_only=bool(pruning), verbose=False
            )
            callbacks.append(stop)
        started = time.perf_counter()
        train = lgb.Dataset(x_train, y_train, params=params, categorical_feature=categorical)
        valid = lgb.Dataset(x_test, y_test, reference=train)
        booster = lgb.train(
            params,
            train,
            num_boost_round=self.tuning.rounds(config),
            valid_sets=[valid],
            callbacks=callbacks,
        )
        seconds = time.perf_counter() - started
        probability = booster.predict(x_test, num_iteration=booster.best_iteration or None)
        return float(roc_auc_score(y_test, probability)), seconds

    def all_folds(self, config: dict[str, Any]) -> dict[str, Any]:
        """Every fold: mean AUC, fit seconds, and the wall clock when the last fold ended."""
        scores, seconds = [], 0.0
        for fold_id in self.fold_ids:
            score, fit_s = self.fold(fold_id, config)
            scores.append(score)
            seconds += fit_s
        return {
            "score": float(np.mean(scores)),
            "boosting_s": seconds,
            "n_folds": len(scores),
            "ended_at": time.time(),
        }


def _with_pruning_metric(params: dict[str, Any]) -> dict[str, Any]:
    """`params` evaluating PRUNING_METRIC after the metric they name (which stops early)."""
    named = [params[alias] for alias in METRIC_ALIASES if alias in params]
    if not named:
        raise ValueError("the multi-fidelity peer needs fixed.metric (the early-stopping metric)")
    first = named[0] if isinstance(named[0], list) else [named[0]]
    kept = {name: value for name, value in params.items() if name not in METRIC_ALIASES}
    return {**kept, "metric": [*first, PRUNING_METRIC]}


@dataclass(frozen=True)
class Run:
    """One peer run: its clock, time budget, the target and when it may stop early."""

    target: float
    budget_s: float
    min_s: float
    seed: int
    cores: int
    # time.time() when the method started: evaluations end at ended_at - started.
    started: float

    def should_stop(self, best: float | None) -> bool:
        elapsed = time.time() - self.started
        reached = best is not None and best >= self.target - SCORE_TOLERANCE
        return elapsed >= self.budget_s or (reached and elapsed >= self.min_s)


def run_hyperopt(
    spark: SparkSession, objective: Objective, ranges: dict[str, Any], run: Run
) -> pd.DataFrame:
    """hyperopt fmin(TPE) with SparkTrials(parallelism=cores): one Spark task per config."""
    from hyperopt import STATUS_OK, SparkTrials, fmin, tpe  # noqa: PLC0415 - bench extra

    def evaluate(config: dict[str, Any]) -> dict[str, Any]:
        result = objective.all_folds(cast(ranges, config))
        return {"loss": -result["score"], "status": STATUS_OK, **result}

    def early_stop(trials: Any, *args: Any) -> tuple[bool, list[Any]]:
        losses = [loss for loss in trials.losses() if loss is not None]
        return run.should_stop(-min(losses) if losses else None), list(args)

    trials = SparkTrials(parallelism=run.cores, spark_session=spark, timeout=run.budget_s)
    try:
        fmin(
            evaluate,
            hyperopt_space(ranges),
            algo=tpe.suggest,
            max_evals=100_000,
            trials=trials,
            rstate=np.random.default_rng(run.seed),
            early_stop_fn=early_stop,
            show_progressbar=False,
        )
    except Exception as error:
        # fmin raises a bare Exception when its timeout cancelled every trial: a result
        # ("nothing finished within the budget"), not a failure of the benchmark.
        if "no evaluation tasks" not in str(error):
            raise
        logger.warning("hyperopt: no trial finished within %.0f s", run.budget_s)
    rows = [_row(result, run) for result in trials.results]
    return evaluations(rows).sort_values("end_s", ignore_index=True)


def run_flaml(
    objective: Objective, ranges: dict[str, Any], run: Run, *, seeded: bool = False
) -> pd.DataFrame:
    """FLAML tune.run(use_spark=True, n_concurrent_trials=cores) over the same ranges.

    FLAML's default searcher (BlendSearch) draws its first configuration's other axes from its
    own seed (20), not from the global generators: as a user runs it, every seed starts from the
    same point. `seeded` (method flaml_seeded) gives the searcher the run's seed instead.
    """
    from flaml import BlendSearch, tune  # noqa: PLC0415 - bench extra; after the session exists

    def evaluate(config: dict[str, Any]) -> dict[str, Any]:
        return objective.all_folds(cast(ranges, config))

    # The global generators still drive FLAML's random restarts.
    random.seed(run.seed)
    np.random.seed(run.seed)
    cheap = {
        name: spec["low"]
        for name, spec in ranges.items()
        if name == "num_leaves" and isinstance(spec, dict)
    }
    space = flaml_space(ranges)
    searcher = (
        BlendSearch(
            metric="score",
            mode="max",
            space=space,
            low_cost_partial_config=cheap or None,
            time_budget_s=run.budget_s,
            num_samples=-1,
            seed=run.seed,
        )
        if seeded
        else None
    )
    analysis = tune.run(
        evaluate,
        config=space,
        low_cost_partial_config=cheap or None,
        metric="score",
        mode="max",
        time_budget_s=run.budget_s,
        num_samples=-1,
        search_alg=searcher,
        use_spark=True,
        n_concurrent_trials=run.cores,
        verbose=0,
    )
    rows = [_row(trial.last_result or {}, run) for trial in analysis.trials]
    return evaluations(rows).sort_values("end_s", ignore_index=True)


def run_optuna(objective: Objective, ranges: dict[str, Any], run: Run) -> pd.DataFrame:
    """Optuna in one process: TPE + WilcoxonPruner over the folds, n_jobs = cores."""
    import optuna  # noqa: PLC0415 - bench extra

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        # WilcoxonPruner is marked experimental; the issue names it as the pruner to compare.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        pruner = optuna.pruners.WilcoxonPruner()
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=run.seed), pruner=pruner
    )

    def evaluate(trial: optuna.Trial) -> float:
        config = optuna_suggest(trial, ranges)
        scores, seconds = [], 0.0
        for step, fold_id in enumerate(objective.fold_ids):
            score, fit_s = objective.fold(fold_id, config)
            scores.append(score)
            seconds += fit_s
            trial.report(score, step)
            trial.set_user_attr("boosting_s", seconds)
            trial.set_user_attr("ended_at", time.time())
            trial.set_user_attr("n_folds", len(scores))
            # After the last fold the work is done: keep the full result rather than prune.
            if step < len(objective.fold_ids) - 1 and trial.should_prune():
                raise optuna.TrialPruned
        return float(np.mean(scores))

    _optimize(study, evaluate, run)
    return _optuna_rows(study, run)


def run_optuna_hyperband(objective: Objective, ranges: dict[str, Any], run: Run) -> pd.DataFrame:
    """Optuna with its own multi-fidelity: TPE + HyperbandPruner, fed every boosting round's test
    AUC by optuna-integration's LightGBMPruningCallback, n_jobs = cores.

    Optuna's steps are boosting rounds of one run, so the callback watches the first (smallest)
    fold, the cheapest evidence; a trial that survives it runs its other folds to the end.
    """
    import optuna  # noqa: PLC0415 - bench extra
    from optuna_integration import LightGBMPruningCallback  # noqa: PLC0415 - bench extra

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=run.seed),
        pruner=optuna.pruners.HyperbandPruner(max_resource=objective.tuning.max_rounds),
    )

    def evaluate(trial: optuna.Trial) -> float:
        config = optuna_suggest(trial, ranges)
        scores, seconds = [], 0.0
        for step, fold_id in enumerate(objective.fold_ids):
            pruning = [LightGBMPruningCallback(trial, PRUNING_METRIC)] if step == 0 else []
            started = time.perf_counter()
            try:
                score, fit_s = objective.fold(fold_id, config, pruning)
            except optuna.TrialPruned:
                # Stopped inside its first fold's boosting run: its seconds and end count.
                trial.set_user_attr("boosting_s", time.perf_counter() - started)
                trial.set_user_attr("ended_at", time.time())
                trial.set_user_attr("n_folds", 0)
                raise
            scores.append(score)
            seconds += fit_s
            trial.set_user_attr("boosting_s", seconds)
            trial.set_user_attr("ended_at", time.time())
            trial.set_user_attr("n_folds", len(scores))
        return float(np.mean(scores))

    _optimize(study, evaluate, run)
    return _optuna_rows(study, run)


def run_flaml_default(objective: Objective, run: Run) -> pd.DataFrame:
    """FLAML's zero-shot AutoML as users run it: `flaml.default.LGBMClassifier().fit` on each
    fold's training part (no search: the hyperparameters come from the data's meta-features).
    Each fold's chosen configuration is scored by `objective`, timestamped when FLAML had it:
    the clock counts FLAML's own fits only, not the scoring."""
    from flaml.default import LGBMClassifier  # noqa: PLC0415 - bench extra; after the session

    rows, peer_s = [], 0.0
    for fold_id in objective.fold_ids:
        frame = pd.read_parquet(objective.paths[fold_id][0])
        started = time.perf_counter()
        model = LGBMClassifier(n_jobs=run.cores, random_state=run.seed, verbose=-1)
        model.fit(frame.drop(columns="target"), frame["target"])
        peer_s += time.perf_counter() - started
        chosen = model.get_params()
        config = {
            ours: chosen[name] for name, ours in FLAML_DEFAULT_NAMES.items() if name in chosen
        }
        result = objective.all_folds(config)
        rows.append({**_row(result, run), "end_s": peer_s})
    return evaluations(rows).sort_values("end_s", ignore_index=True)


def run_optuna_tuner_cv(
    objective: Objective,
    data: tuple[np.ndarray, np.ndarray, list[int]],
    folds: list[tuple[np.ndarray, np.ndarray]],
    run: Run,
) -> pd.DataFrame:
    """Optuna's stepwise LightGBMTunerCV (optuna-integration) on the whole model input `data`
    (features, labels, categorical positions) with `folds=` the fold index pairs: lgb.cv
    validates on each fold's test part. The tuning's fixed parameters, round cap and early
    stopping; its own CV score decides its steps only: every configuration it fitted is then
    scored by `objective` (not timed), timestamped when the tuner completed it."""
    import optuna  # noqa: PLC0415 - bench extra
    from optuna_integration.lightgbm import LightGBMTunerCV  # noqa: PLC0415 - bench extra

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    features, labels, categorical = data
    params = {**objective.tuning.lightgbm_params({}), "num_threads": run.cores}
    train = lgb.Dataset(
        features, labels, params=params, categorical_feature=categorical, free_raw_data=False
    )
    callbacks = []
    if objective.tuning.early_stopping_rounds:
        callbacks.append(lgb.early_stopping(objective.tuning.early_stopping_rounds, verbose=False))
    tuner = LightGBMTunerCV(
        params,
        train,
        folds=folds,
        num_boost_round=objective.tuning.max_rounds,
        callbacks=callbacks,
        time_budget=max(1, int(run.budget_s)),
        seed=run.seed,
        optuna_seed=run.seed,
        show_progress_bar=False,
        return_cvbooster=False,
    )
    tuner.run()
    fixed = set(params)
    rows, scored = [], {}
    for trial in tuner.study.trials:
        if trial.state != optuna.trial.TrialState.COMPLETE or trial.datetime_complete is None:
            continue
        tuned = json.loads(trial.system_attrs[TUNER_PARAMS])
        config = {name: value for name, value in tuned.items() if name not in fixed}
        key = json.dumps(config, sort_keys=True)
        if key not in scored:
            scored[key] = objective.all_folds(config)
        result = {**scored[key], "ended_at": trial.datetime_complete.timestamp()}
        rows.append(_row(result, run))
    return evaluations(rows).sort_values("end_s", ignore_index=True)


def _optimize(study: Any, evaluate: Any, run: Run) -> None:
    """study.optimize with n_jobs = cores, until the budget or the run's stop rule."""
    import optuna  # noqa: PLC0415 - bench extra

    def stop(study: optuna.Study, _: Any) -> None:
        done = [t.value for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if run.should_stop(max(done) if done else None):
            study.stop()

    study.optimize(evaluate, n_jobs=run.cores, timeout=run.budget_s, callbacks=[stop])


def _optuna_rows(study: Any, run: Run) -> pd.DataFrame:
    """An evaluations row per trial that ran (pruned ones with no score)."""
    import optuna  # noqa: PLC0415 - bench extra

    rows = []
    for trial in study.trials:
        if "ended_at" not in trial.user_attrs:
            continue
        complete = trial.state == optuna.trial.TrialState.COMPLETE
        rows.append(
            {
                "end_s": trial.user_attrs["ended_at"] - run.started,
                "score": trial.value if complete else math.nan,
                "complete": complete,
                "pruned": trial.state == optuna.trial.TrialState.PRUNED,
                "n_folds": trial.user_attrs["n_folds"],
                "boosting_s": trial.user_attrs["boosting_s"],
            }
        )
    return evaluations(rows).sort_values("end_s", ignore_index=True)


def _row(result: dict[str, Any], run: Run) -> dict[str, Any]:
    """An evaluations row from a hyperopt or FLAML result (a failed one: incomplete, at 0 s)."""
    complete = "score" in result and "ended_at" in result
    return {
        "end_s": result["ended_at"] - run.started if complete else 0.0,
        "score": result["score"] if complete else math.nan,
        "complete": complete,
        "pruned": False,
        "n_folds": result.get("n_folds", 0),
        "boosting_s": result.get("boosting_s", 0.0),
    }
