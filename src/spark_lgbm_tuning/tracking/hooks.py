"""`TrackingHooks`: one MLflow run per `kedro run`, the search's combinations as nested runs.

kedro-mlflow's own hook (`MlflowHook`) does the run itself: conf/<env>/mlflow.yml, the
experiment, the run's start and end, Kedro's run tags. Parameters are logged here, once, every
`params:` block the pipeline reads, one param per key. kedro-mlflow's hook is called from this
one, not registered by its plugin entry point (settings.py disables that), so that any failure of
it is caught: a tracking server that is down, a bad URI or a failed request logs one warning and
the run goes on untracked, writing every output as usual.

On top of it, after the nodes that produce them (on the driver, never inside the search), sent
from a background thread (`BackgroundLog`) while the pipeline goes on; the run waits for what is
still queued only when it ends:
- `run_trials` -> each combination of `tuning_results` as a nested run (params, mean/std of each
  metric over the ok folds, per-fold values, status), the data fingerprint of `tuning_trials`
  and the numbers of `tuning_run_info` on the parent run;
- `select_best_params` -> `best_params` as an artefact, the winner's nested run tagged `best`;
- `refit_best_model` -> the refit model as an MLflow LightGBM model with its signature;
- the report, every `*_plot` and every `*_figure` as artefacts (not a figure of the other task,
  which the report leaves out too). The namespaced (`regression.`) outputs likewise.
The parent run also gets the env, git commit, package versions and the seconds tracking took:
`tracking_s` on the driver's path (set-up, run start, the final wait), `tracking_background_s` in
the background thread.

The parent run ends FINISHED, FAILED on an error (kedro-mlflow), KILLED on an interrupt (Ctrl-C,
SIGTERM: Kedro calls no hook then, and MLflow's own exit handler would record FINISHED, so an exit
handler of this hook ends it first). A process killed outright (SIGKILL) cannot record anything:
its run carries the process's pid, host and start time as tags (`records.process_tags`), and the
next run of the experiment closes it as KILLED once that process is gone.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import mlflow
import plotly.graph_objects as go
from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl
from mlflow.entities import RunStatus
from mlflow.tracking import MlflowClient
from pydantic import Field

from spark_lgbm_tuning.pipelines.reporting import REPORT_DATASET, is_drawn
from spark_lgbm_tuning.tracking import mlflow_log
from spark_lgbm_tuning.tracking.background import BackgroundLog
from spark_lgbm_tuning.tracking.records import context_tags, process_tags
from spark_lgbm_tuning.user_tables import scoring_tags
from spark_lgbm_tuning.vocabulary.params_model import ParamsModel

# kedro-mlflow registers its resolver with the OmegaConf call that settings.py quiets for Kedro.
warnings.filterwarnings(
    "ignore",
    message=r"register_new_resolver\(\) is deprecated",
    category=UserWarning,
    module=r"kedro_mlflow\.",
)


@contextlib.contextmanager
def _without_predict_type_hint_warning() -> Iterator[None]:
    """Drop the warning MLflow gives when kedro-mlflow's KedroPipelineModel (never used here) is
    defined, on import, about its untyped predict(): nothing a user can act on, at every start.
    MLflow raises it under its own warnings filter, so it is dropped where it is shown."""
    shown = warnings.showwarning

    def show(message, category, filename, lineno, *where):
        if "Add type hints to the `predict` method" not in str(message):
            shown(message, category, filename, lineno, *where)

    warnings.showwarning = show
    try:
        yield
    finally:
        if warnings.showwarning is show:  # not replaced meanwhile (logging.captureWarnings)
            warnings.showwarning = shown


# settings.py imports this module first, so kedro-mlflow is first imported here. Kedro's logging
# set-up (logging.captureWarnings, which replaces warnings.showwarning) comes first, or it would
# happen inside the block, in kedro-mlflow's imports, and show the warning.
import kedro.framework.project  # noqa: E402, F401

with _without_predict_type_hint_warning():
    from kedro_mlflow.config.kedro_mlflow_config import KedroMlflowConfig
    from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook

logger = logging.getLogger(__name__)

# The embedded default store (no MLFLOW_TRACKING_URI, no URI in mlflow.yml): SQLite under the
# project's data/, its experiments' artefacts beside it, wherever `kedro run` starts. data/ is
# what the docker-compose services mount, so runs made in the jupyterlab container outlive it.
TRACKING_DIR = Path("data", "09_tracking")
LOCAL_STORE, LOCAL_ARTIFACTS = TRACKING_DIR / "mlruns.db", TRACKING_DIR / "mlruns"
# kedro-mlflow's own config pattern for mlflow.yml (it adds the same one if missing).
MLFLOW_PATTERNS = ["mlflow*", "mlflow*/**", "**/mlflow*"]
# Outputs logged as files under plots/: data_generation's matplotlib PNGs (`*_plot`) and the
# report's plotly figures (`*_figure`, the JSON the catalog wrote; the report embeds them all).
FIGURE_SUFFIXES = ("_plot", "_figure")
# Node outputs logged from memory (`_log_outputs`), any namespace.
NODE_OUTPUTS = ("tuning_results", "best_params", "refit_model", "scored_table")
# While the run is set up (experiment looked up or created), a server that does not answer at
# once fails fast instead of MLflow's minutes of retries; later requests keep MLflow's defaults.
SETUP_HTTP_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
# The run's last tracking line (tools/tracking_overhead.py reads it).
TRACKING_TOOK = (
    "MLflow tracking took %.2f s of this run (and %.2f s in the background, alongside the pipeline)"
)


KILLED = RunStatus.to_string(RunStatus.KILLED)


class TrackingParams(ParamsModel):
    """`params:tracking` (parameters_tracking.yml): the one switch for MLflow tracking."""

    enabled: bool = Field(True)


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set the variables of `values` that are unset (a user's own win), for the block only."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update({key: value for key, value in values.items() if saved[key] is None})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)


def _split(dataset: str) -> tuple[str, str]:
    """('regression.', 'tuning_results') for 'regression.tuning_results@pandas'."""
    namespace, _, leaf = dataset.split("@", maxsplit=1)[0].rpartition(".")
    return (f"{namespace}." if namespace else ""), leaf


def _local_store(context) -> dict[str, str]:
    """{"MLFLOW_TRACKING_URI": the project's SQLite store} when neither the environment nor
    mlflow.yml names a store, with the experiment created there to keep its artefacts in the
    project too (MLflow would put them under the current directory); else {}."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return {}
    loader = context.config_loader
    loader.config_patterns.setdefault("mlflow", MLFLOW_PATTERNS)
    try:
        config = KedroMlflowConfig.model_validate(dict(loader["mlflow"]))
    except MissingConfigException:
        config = KedroMlflowConfig()
    if config.server.mlflow_tracking_uri:
        return {}
    project = Path(context.project_path)
    (project / TRACKING_DIR).mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{(project / LOCAL_STORE).as_posix()}"
    store = MlflowClient(uri)
    name = config.tracking.experiment.name
    if store.get_experiment_by_name(name) is None:
        store.create_experiment(name, artifact_location=(project / LOCAL_ARTIFACTS).as_uri())
    return {"MLFLOW_TRACKING_URI": uri}


class TrackingHooks:
    """Runs kedro-mlflow's hook behind a guard and logs the search, model and report to its run."""

    def __init__(self) -> None:
        self._mlflow: MlflowHook | None = None
        self._context_tags: dict[str, str] = {}
        self._combo_runs: dict[str, dict[str, str]] = {}
        self._seconds = 0.0
        self._background: BackgroundLog | None = None
        self._client: MlflowClient | None = None
        self._catalog = None
        self._save_version: str | None = None

    @property
    def _run_id(self) -> str | None:
        return None if self._mlflow is None else self._mlflow.run_id

    def _guarded(self, step: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run one tracking step; on any error, warn once and stop tracking for this run."""
        if self._mlflow is None:
            return
        started = time.perf_counter()
        try:
            step(*args, **kwargs)
        except Exception as error:  # tracking must never fail the run
            _warn_failure(error)
            self._stop_tracking()
        finally:
            seconds = time.perf_counter() - started
            self._seconds += seconds
            logger.debug("MLflow: %s took %.3f s", getattr(step, "__name__", step), seconds)

    def _queued(self, step: Callable[..., Any], *args: Any) -> None:
        """Hand one step of the started run to the background thread."""
        if self._run_id is not None and self._background is not None:
            self._background.submit(step, *args)

    def _stop_tracking(self) -> None:
        self._mlflow = None
        mlflow_log.end_run_quietly()

    def _finish_background(self) -> None:
        """Wait for the queued steps (counted as tracking time); stop tracking if one failed."""
        if self._background is None:
            return
        started = time.perf_counter()
        failure = self._background.drain()
        self._seconds += time.perf_counter() - started
        if failure is not None and self._mlflow is not None:
            self._stop_tracking()  # warned by the background thread already

    @hook_impl
    def after_context_created(self, context) -> None:
        self._mlflow, self._combo_runs, self._seconds = None, {}, 0.0
        if self._background is not None:
            self._background.close()
        self._background = None
        settings = TrackingParams.model_validate(context.params.get("tracking") or {})
        if not settings.enabled:
            logger.info("MLflow tracking is off (tracking.enabled is false)")
            return
        self._mlflow = MlflowHook()
        self._background = BackgroundLog(on_failure=_warn_failure)
        store: dict[str, str] = {}
        self._guarded(lambda: store.update(_local_store(context)))
        if self._mlflow is None:
            return
        with _environ(SETUP_HTTP_ENV | store):
            self._guarded(self._mlflow.after_context_created, context)
        if self._mlflow is None:
            return
        server = self._mlflow.mlflow_config.server
        self._client = MlflowClient(server.mlflow_tracking_uri, server.mlflow_registry_uri)
        self._context_tags = {
            "kedro.env": str(context.env or context.config_loader.default_run_env),
            **context_tags(Path(context.project_path)),
            **process_tags(),
        }

    @hook_impl
    def after_catalog_created(  # noqa: PLR0913, PLR0917 - Kedro's hook spec
        self, catalog, conf_catalog, conf_creds, parameters, save_version, load_versions
    ) -> None:
        self._catalog, self._save_version = catalog, save_version
        if self._mlflow is not None:
            self._guarded(
                self._mlflow.after_catalog_created,
                catalog,
                conf_catalog,
                conf_creds,
                parameters,
                save_version,
                load_versions,
            )

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        if self._mlflow is None:
            return
        self._guarded(self._mlflow.before_pipeline_run, run_params, pipeline, catalog)
        if self._run_id is not None:
            atexit.register(self._end_interrupted_run)
        self._queued(mlflow_log.log_context, self._client, self._run_id, self._context_tags)
        self._queued(mlflow_log.close_orphaned_runs, self._client, self._run_id)
        self._queued(mlflow_log.log_parameters, self._client, self._run_id, pipeline, catalog)

    @hook_impl
    def before_node_run(self, node, catalog, inputs, is_async) -> None:
        # kedro-mlflow reopens its run in each node's thread (ThreadRunner); in the thread where
        # it is active already that costs a request per node. Parameters were logged at the start
        # in one request (kedro-mlflow would log them one request per key, at every node).
        active = mlflow.active_run()
        if self._run_id is not None and (active is None or active.info.run_id != self._run_id):
            self._guarded(self._mlflow.before_node_run, node, catalog, {}, is_async)

    @hook_impl
    def after_node_run(self, node, inputs, outputs) -> None:
        # Only the nodes with a logged output: the queue holds what it is handed until it is sent.
        if any(_split(name)[1] in NODE_OUTPUTS for name in outputs):
            self._queued(self._log_outputs, self._run_id, inputs, outputs)

    @hook_impl
    def after_pipeline_run(self, run_params, pipeline, catalog) -> None:
        atexit.unregister(self._end_interrupted_run)
        self._finish_background()
        if self._run_id is None:
            return
        background_s = self._background.busy_s if self._background is not None else 0.0
        self._guarded(
            mlflow_log.log_values,
            self._client,
            self._run_id,
            metrics={
                "tracking_s": round(self._seconds, 3),
                "tracking_background_s": round(background_s, 3),
            },
        )
        logger.info(TRACKING_TOOK, self._seconds, background_s)
        if self._mlflow is not None:
            self._guarded(self._mlflow.after_pipeline_run, run_params, pipeline, catalog)

    @hook_impl
    def on_pipeline_error(self, error, run_params, pipeline, catalog) -> None:
        atexit.unregister(self._end_interrupted_run)
        self._finish_background()  # what the finished nodes produced is still recorded
        if self._mlflow is not None:
            self._guarded(self._mlflow.on_pipeline_error, error, run_params, pipeline, catalog)

    def _end_interrupted_run(self) -> None:
        """At exit of a run that neither finished nor failed (KeyboardInterrupt: Ctrl-C, or
        SIGTERM through RunGuardHooks): end its MLflow run KILLED, before MLflow's own exit
        handler would end it FINISHED. The background thread was joined already (its pool's
        exit handler runs first), so what it had queued is recorded."""
        run_id = self._run_id
        if run_id is None:
            return
        mlflow_log.end_run_quietly(KILLED)
        self._guarded(self._client.set_terminated, run_id, KILLED)
        logger.info("MLflow: run %s ended KILLED (the run was interrupted)", run_id)

    def _log_outputs(self, run_id: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        for name, value in outputs.items():
            namespace, leaf = _split(name)
            if leaf == "tuning_results":
                self._combo_runs[namespace] = mlflow_log.log_search(
                    self._client,
                    run_id,
                    namespace,
                    value,
                    run_info=outputs.get(f"{namespace}tuning_run_info") or {},
                )
            elif leaf == "best_params":
                folder = namespace.replace(".", "/")  # regression. -> regression/
                self._client.log_dict(run_id, value, f"{folder}best_params.yml")
                mlflow_log.mark_best(self._client, self._combo_runs.get(namespace, {}), value)
            elif leaf == "refit_model":
                model_name = f"{namespace.replace('.', '_')}model"
                mlflow_log.log_model(self._client, run_id, value, model_name, inputs.values())
            elif leaf == "scored_table":
                mlflow_log.log_values(
                    self._client, run_id, tags=scoring_tags(self._catalog, inputs["refit_model"])
                )

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        namespace, leaf = _split(dataset_name)
        if self._run_id is None:
            return
        if isinstance(data, go.Figure) and not is_drawn(data):
            return  # the other task's figure (prediction_plots.drawn_for): nothing to look at
        if leaf == REPORT_DATASET or leaf.endswith(FIGURE_SUFFIXES):
            folder = namespace.replace(".", "/") + ("report" if leaf == REPORT_DATASET else "plots")
            self._queued(self._log_file, self._run_id, dataset_name, data, f"{folder}/{leaf}")

    def _log_file(self, run_id: str, dataset_name: str, data: Any, artifact: str) -> None:
        saved = mlflow_log.saved_path(self._catalog, dataset_name, self._save_version)
        mlflow_log.log_output_file(self._client, run_id, saved, data, artifact)


def _warn_failure(error: Exception) -> None:
    logger.warning(
        "MLflow tracking failed (%s: %s; tracking URI %s): the rest of this run is not "
        "tracked; every output is still written as usual",
        type(error).__name__,
        str(error).splitlines()[0] if str(error) else "",
        mlflow.get_tracking_uri(),
    )
