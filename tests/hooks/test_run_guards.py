"""hooks/run_guards.py: RunGuardHooks (SIGINT/SIGTERM during a run and a save). Missing
inputs and StoreLockHooks are run end to end in tests/pipelines/tuning/test_bad_input.py and
tests/datasets/test_store_lock.py; the hooks' order in tests/test_settings.py."""

from __future__ import annotations

import signal

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline

from spark_lgbm_tuning.hooks.run_guards import RunGuardHooks


def _identity(value):
    return value


# ------------------------------------------------------------------ RunGuardHooks
# The end-to-end behaviour (a `kedro run` subprocess interrupted mid-search) is in
# tests/pipelines/tuning/test_faults.py; these tests call the handler the hook installs.
@pytest.fixture
def guard():
    hooks = RunGuardHooks()
    pipeline = Pipeline([Node(_identity, "present", "out", name="copy")])
    previous = signal.getsignal(signal.SIGTERM)
    hooks.before_pipeline_run(pipeline, DataCatalog({"present": MemoryDataset(1)}))
    yield hooks
    hooks.after_pipeline_run()
    assert signal.getsignal(signal.SIGTERM) is previous


def test_sigterm_interrupts_the_run_like_ctrl_c(guard):
    assert signal.getsignal(signal.SIGTERM) == guard._on_signal
    with pytest.raises(KeyboardInterrupt, match="SIGTERM received during the run"):
        guard._on_signal(signal.SIGTERM, None)


def test_an_interrupt_during_a_save_waits_for_the_save(guard):
    guard.before_dataset_saved("tuning_results@pandas")
    guard._on_signal(signal.SIGINT, None)  # deferred: returns

    with pytest.raises(KeyboardInterrupt, match="SIGINT received during the run"):
        guard.after_dataset_saved("tuning_results@pandas")


def test_a_second_signal_during_a_save_does_not_wait(guard):
    guard.before_dataset_saved("tuning_results@pandas")
    guard._on_signal(signal.SIGTERM, None)

    with pytest.raises(KeyboardInterrupt):
        guard._on_signal(signal.SIGTERM, None)
