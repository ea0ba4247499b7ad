"""Guards of a run before and while it runs: its inputs, its signals, its trial stores' lock."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from typing import Any

from kedro.framework.hooks import hook_impl

from spark_lgbm_tuning.datasets.trial_store import TrialStoreDataset
from spark_lgbm_tuning.run_inputs import check_inputs_exist
from spark_lgbm_tuning.user_tables import check_user_tables_untouched

logger = logging.getLogger(__name__)


class RunGuardHooks:
    """Fails a run early on missing inputs, and makes SIGINT/SIGTERM stop it cleanly.

    - `before_pipeline_run` (first of all hooks): no dataset the pipeline writes may be the
      user's `input_table` or `scoring_table` (user_tables.py); every dataset the pipeline reads
      but does not produce must exist; the error names it and the pipeline that produces it.
    - During the run SIGTERM (`docker stop`, a cluster manager) raises KeyboardInterrupt like
      Ctrl-C, so one path handles both: run_trials cancels its Spark jobs and keeps the finished
      trials (docs/reliability.md). While the catalog saves a dataset, the interrupt waits for the
      save to finish, so no output is left half-written; a second signal does not wait.
    Signal handlers can only be set from the main thread; elsewhere the defaults stay.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        self._saving: list[str] = []
        self._pending: int | None = None

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, pipeline, catalog) -> None:
        check_user_tables_untouched(pipeline, catalog)
        check_inputs_exist(pipeline, catalog)
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)

    @hook_impl
    def before_dataset_saved(self, dataset_name: str) -> None:
        self._saving.append(dataset_name)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        if dataset_name in self._saving:
            self._saving.remove(dataset_name)
        if not self._saving and self._pending is not None:
            signum, self._pending = self._pending, None
            raise KeyboardInterrupt(f"{signal.Signals(signum).name} received during the run")

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._restore()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._restore()

    def _on_signal(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self._saving and self._pending is None:
            self._pending = signum
            logger.warning(
                "%s received while saving %s: stopping once the save is complete",
                name,
                ", ".join(self._saving),
            )
            return
        logger.warning("%s received: stopping the run", name)
        raise KeyboardInterrupt(f"{name} received during the run")

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        self._saving.clear()
        self._pending = None


class StoreLockHooks:
    """Takes the lock of every trial store the run reads before Spark starts; releases it after.

    A second search on a store in use is refused in Kedro's start-up time, not after the JVM's
    start and the search's expansion (38-72 s before). `run_trials` holds the same lock again
    (`store_lock.holding` is reentrant within a process). Its `before_pipeline_run` comes right
    after RunGuardHooks' (both `tryfirst`, this one registered first in settings.py: pluggy calls
    the later registered first), so a missing input is named first, and before SparkHooks'.
    """

    def __init__(self) -> None:
        self._held = contextlib.ExitStack()

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, pipeline, catalog) -> None:
        for name in sorted(pipeline.inputs()):
            if name.startswith("params:") or name == "parameters" or name not in catalog:
                continue
            dataset = catalog.get(name)
            if isinstance(dataset, TrialStoreDataset):
                self._held.enter_context(dataset.load().locked())

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._held.close()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._held.close()
