"""tracking/background.py: steps run in order on one other thread, the caller does not wait for
them, and the first failure stops the queue and is reported once."""

from __future__ import annotations

import threading

import pytest

from spark_lgbm_tuning.tracking.background import BackgroundLog


def test_steps_run_in_order_on_another_thread_while_the_caller_goes_on():
    released = threading.Event()
    done: list[tuple[str, str]] = []

    def step(label: str) -> None:
        # The first step waits until the caller has gone on past every submit.
        assert released.wait(timeout=30)
        done.append((label, threading.current_thread().name))

    log = BackgroundLog(on_failure=pytest.fail)
    for label in ("a", "b", "c"):
        log.submit(step, label)
    assert done == []  # submit returned without running the step
    released.set()
    assert log.drain() is None
    log.close()

    assert [label for label, _ in done] == ["a", "b", "c"]
    assert {thread for _, thread in done} != {threading.current_thread().name}
    assert log.busy_s > 0


def test_the_first_failure_is_reported_once_and_drops_every_later_step():
    reported: list[Exception] = []
    calls: list[str] = []

    def lost() -> None:
        calls.append("lost")
        raise ConnectionError("connection refused")

    log = BackgroundLog(on_failure=reported.append)
    log.submit(lost)
    log.submit(calls.append, "queued before the failure was known")
    failure = log.drain()
    log.submit(calls.append, "submitted after it")
    log.close()

    assert calls == ["lost"]
    assert isinstance(failure, ConnectionError) and reported == [failure] and log.failed
