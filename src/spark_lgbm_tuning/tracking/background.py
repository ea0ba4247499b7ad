"""`BackgroundLog`: tracking records sent from one worker thread, in order, while the run goes on.

A tracked run spends most of its tracking time on the nested runs (SQLite commits), the model
(files and a logged-model entity) and the artefacts. No later node needs any of it, so the hooks
hand those steps to this thread and the driver waits only at the end of the run, for what is
still queued. The first step that fails is reported once, through `on_failure`, and every step
queued after it is dropped: each would wait for the same unreachable server again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any


class BackgroundLog:
    """A one-thread queue of tracking steps; `drain` waits for them and says whether one failed."""

    def __init__(self, on_failure: Callable[[Exception], None]) -> None:
        self._on_failure = on_failure
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlflow-log")
        self._pending: list[Future] = []
        self._failure: Exception | None = None
        self.busy_s = 0.0  # seconds the worker spent on steps

    @property
    def failed(self) -> bool:
        return self._failure is not None

    def submit(self, step: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Queue `step(*args, **kwargs)`; nothing once a step has failed."""
        if self._failure is None:
            self._pending.append(self._executor.submit(self._run, step, args, kwargs))

    def _run(self, step: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        if self._failure is not None:
            return
        started = time.perf_counter()
        try:
            step(*args, **kwargs)
        except Exception as error:  # tracking must never fail the run
            self._failure = error
            self._on_failure(error)
        finally:
            self.busy_s += time.perf_counter() - started

    def drain(self) -> Exception | None:
        """Wait for every queued step; the failure that stopped the queue, if any."""
        pending, self._pending = self._pending, []
        wait(pending)
        return self._failure

    def close(self) -> None:
        """Drain and stop the worker thread."""
        self.drain()
        self._executor.shutdown(wait=True)
