"""Sends a run's records to MLflow: the search's nested runs, the model, the report and plots.

Every call names its run explicitly (`MlflowClient`), so nothing depends on which MLflow run is
active in the calling thread: the hooks send these from a background thread, where none is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import lightgbm as lgb
import mlflow
import mlflow.lightgbm
import numpy as np
import pandas as pd
from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.models import ModelSignature, infer_signature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, Schema
from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT, MLFLOW_PARENT_RUN_ID

from spark_lgbm_tuning.tracking.records import (
    CombinationRun,
    combination_runs,
    data_fingerprint,
    flat_params,
    orphaned,
    search_metrics,
    search_tags,
)
from spark_lgbm_tuning.vocabulary.statuses import OK, PRUNED
from spark_lgbm_tuning.vocabulary.trial_columns import COMBO_ID

logger = logging.getLogger(__name__)

# The MLflow run status a combination ends with (its own status is the `status` tag).
RUN_STATUS = {OK: "FINISHED", PRUNED: "KILLED"}
SIGNATURE_ROWS = 5


def log_context(client: MlflowClient, run_id: str, tags: Mapping[str, str]) -> None:
    """Tags of the parent run; the git commit also as MLflow's own tag (shown in the UI)."""
    tags = dict(tags)
    if "git.commit" in tags:
        tags[MLFLOW_GIT_COMMIT] = tags["git.commit"]
    client.log_batch(run_id, tags=[RunTag(key, value) for key, value in tags.items()])


def close_orphaned_runs(client: MlflowClient, run_id: str) -> list[str]:
    """Close as KILLED every run of `run_id`'s experiment that is still RUNNING although the
    process its tags name has ended (`records.orphaned`: SIGKILL, a lost machine); their ids."""
    experiment_id = client.get_run(run_id).info.experiment_id
    running = client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
    )
    closed = []
    for run in running:
        if run.info.run_id != run_id and orphaned(run.data.tags):
            client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.KILLED))
            client.set_tag(run.info.run_id, "closed_by_run", run_id)
            closed.append(run.info.run_id)
    if closed:
        logger.warning(
            "MLflow: closed %d run(s) left RUNNING by a process that has ended as KILLED: %s",
            len(closed),
            ", ".join(closed),
        )
    return closed


def log_parameters(client: MlflowClient, run_id: str, pipeline: Any, catalog: Any) -> None:
    """Every `params:<name>` the pipeline reads, one parameter per key (tuning.grid.num_leaves),
    in one request."""
    params = {}
    for name in sorted(pipeline.inputs()):
        if name.startswith("params:"):
            params.update(flat_params(name.removeprefix("params:"), catalog.load(name)))
    client.log_batch(run_id, params=[Param(key, value) for key, value in params.items()])


def log_values(
    client: MlflowClient,
    run_id: str,
    *,
    metrics: Mapping[str, float] = {},
    tags: Mapping[str, str] = {},
) -> None:
    """Metrics and tags of one run in one request."""
    stamp = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(key, value, stamp, 0) for key, value in metrics.items()],
        tags=[RunTag(key, value) for key, value in tags.items()],
    )


def log_combinations(
    client: MlflowClient, parent_run_id: str, combinations: Iterable[CombinationRun]
) -> dict[str, str]:
    """One nested run per combination under `parent_run_id`; returns combo_id -> its run id."""
    experiment_id = client.get_run(parent_run_id).info.experiment_id
    stamp = int(time.time() * 1000)
    run_ids = {}
    for combination in combinations:
        run = client.create_run(
            experiment_id,
            run_name=combination.name,
            tags={MLFLOW_PARENT_RUN_ID: parent_run_id, **combination.tags},
        )
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(key, value, stamp, 0) for key, value in combination.metrics.items()],
            params=[Param(key, value) for key, value in combination.params.items()],
        )
        client.set_terminated(run.info.run_id, RUN_STATUS.get(combination.status, "FAILED"))
        run_ids[combination.combo_id] = run.info.run_id
    return run_ids


def log_search(
    client: MlflowClient,
    run_id: str,
    namespace: str,
    tuning_results: pd.DataFrame,
    *,
    run_info: Mapping[str, Any],
) -> dict[str, str]:
    """A search on the parent run: the numbers of `tuning_run_info` and the data fingerprint of
    its trials (keys prefixed with the namespace), then its combinations as nested runs."""
    tags = data_fingerprint(tuning_results) | search_tags(run_info)
    log_values(
        client,
        run_id,
        metrics={f"{namespace}{key}": value for key, value in search_metrics(run_info).items()},
        tags={f"{namespace}{key}": value for key, value in tags.items()},
    )
    combinations = combination_runs(tuning_results, namespace.rstrip("."))
    run_ids = log_combinations(client, run_id, combinations)
    logger.info("MLflow: the search's %d combinations logged as nested runs", len(combinations))
    return run_ids


def mark_best(client: MlflowClient, run_ids: Mapping[str, str], best_params: Mapping) -> None:
    """Tag the nested run of best_params' winning combination `best: true`."""
    combo_id = (best_params.get("selection") or {}).get(COMBO_ID)
    if combo_id in run_ids:
        client.set_tag(run_ids[combo_id], "best", "true")


def model_signature(booster: lgb.Booster, inputs: Iterable[Any]) -> ModelSignature:
    """The refit model's signature, from a few rows of the data it was trained on when a node
    input holds it, else from its feature names (float inputs, one float output)."""
    features = booster.feature_name()
    for value in inputs:
        if isinstance(value, pd.DataFrame) and set(features) <= set(value.columns):
            sample = value[features].head(SIGNATURE_ROWS)
            return infer_signature(sample, booster.predict(sample))
    inputs_schema = Schema([ColSpec("double", name) for name in features])
    return ModelSignature(inputs=inputs_schema, outputs=Schema([ColSpec("double")]))


def log_model(
    client: MlflowClient, run_id: str, model_text: str, name: str, inputs: Iterable[Any]
) -> None:
    """The refit model (LightGBM text format) as an MLflow LightGBM model of run `run_id`, in
    that run's experiment. Nothing depends on an active run (MLflow would otherwise take the
    active experiment): the hooks log it from their background thread, where none is."""
    booster = lgb.Booster(model_str=model_text)
    run = client.get_run(run_id)
    # What mlflow.lightgbm.log_model creates itself, but in the run's own experiment.
    logged = client.create_logged_model(
        run.info.experiment_id, name=name, source_run_id=run_id, params=run.data.params
    )
    mlflow.lightgbm.log_model(
        booster,
        name=name,
        model_id=logged.model_id,
        run_id=run_id,
        signature=model_signature(booster, inputs),
        # Pinned here, so MLflow does not infer them by loading the model in a subprocess.
        pip_requirements=[f"lightgbm=={lgb.__version__}", f"numpy=={np.__version__}"],
    )


def log_figure(client: MlflowClient, run_id: str, figure: Any, path: str) -> bool:
    """A matplotlib figure as PNG, a plotly one as HTML; False for anything else."""
    module = type(figure).__module__
    if module.startswith("matplotlib"):
        client.log_figure(run_id, figure, f"{path}.png")
    elif module.startswith("plotly"):
        client.log_figure(run_id, figure, f"{path}.html")
    else:
        return False
    return True


def saved_path(catalog: Any, dataset_name: str, save_version: str | None) -> Path | None:
    """Where the catalog saved a file dataset: its filepath, under <save version>/ when it is
    versioned (Kedro's layout); None for a dataset without a filepath."""
    config = catalog.config_resolver.resolve_pattern(dataset_name)
    if not config.get("filepath"):
        return None
    filepath = Path(config["filepath"])
    if config.get("versioned") and save_version:
        return filepath / save_version / filepath.name
    return filepath


def log_output_file(
    client: MlflowClient, run_id: str, saved: Path | None, data: Any, artifact: str
) -> None:
    """The file the catalog just wrote, copied as it is (a figure is not rendered twice) into
    the folder of `artifact`; an output whose file is not found is logged from memory."""
    if saved is not None and saved.is_file():
        client.log_artifact(run_id, str(saved), artifact.rpartition("/")[0])
    elif isinstance(data, str):
        client.log_text(run_id, data, f"{artifact}.html")
    else:
        log_figure(client, run_id, data, artifact)


def end_run_quietly(status: str = "FAILED") -> None:
    """End the active MLflow run, if any, without raising (its server may be gone)."""
    try:
        if mlflow.active_run() is not None:
            mlflow.end_run(RunStatus.to_string(RunStatus.from_string(status)))
    except Exception as error:  # the run is already being given up
        logger.debug("Could not end the MLflow run: %s", error)
