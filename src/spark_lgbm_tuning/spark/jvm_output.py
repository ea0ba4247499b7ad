"""The driver JVM's stdout and stderr, passed on to ours until its run gives it up.

A JVM that starts in the background (`session.SessionStarter`) and is abandoned by a run that
failed first would print Spark's start-up banner and WARN lines after the run's `Error:` line,
even after the driver has exited: it shares our terminal and only notices that we are gone once
it is up. Launched with `JvmOutput.popen_kwargs()` its output goes through two pipes that threads
here copy to our stdout and stderr; `silence()` stops the copying (what the JVM writes then is
read and dropped, so it never blocks), and once our process exits its writes go nowhere.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any


class JvmOutput:
    """Pipes for a JVM's stdout and stderr, copied to this process's until `silence()`."""

    def __init__(self) -> None:
        self._silenced = threading.Event()
        self._write_ends: list[int] = []

    def popen_kwargs(self) -> dict[str, Any]:
        """`stdout` and `stderr` for the JVM's Popen (PySpark's `launch_gateway`)."""
        kwargs = {}
        # File descriptors 1 and 2, which the JVM would inherit (not sys.stdout, which a
        # notebook or a test may have replaced by an object without one).
        for name, target in (("stdout", 1), ("stderr", 2)):
            read_end, write_end = os.pipe()
            self._write_ends.append(write_end)
            threading.Thread(
                target=self._copy,
                args=(read_end, target),
                name=f"spark-jvm-{name}",
                daemon=True,
            ).start()
            kwargs[name] = write_end
        return kwargs

    def launched(self) -> None:
        """Close our copies of the write ends (the JVM holds its own), so the copying threads end
        when the JVM does."""
        for write_end in self._write_ends:
            with contextlib.suppress(OSError):
                os.close(write_end)
        self._write_ends = []

    def silence(self) -> None:
        self._silenced.set()

    def _copy(self, read_end: int, target: int) -> None:
        # By file descriptor: the JVM's bytes (progress bars' \r included) as it wrote them, and
        # no Python buffer that could hold them past the lines logged after them.
        with os.fdopen(read_end, "rb", buffering=0) as source:
            while chunk := source.read(65536):
                if not self._silenced.is_set():
                    with contextlib.suppress(OSError):
                        os.write(target, chunk)
