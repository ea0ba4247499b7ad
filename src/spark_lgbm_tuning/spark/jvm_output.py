"""The output of a JVM this process starts, passed on to ours through pipes (`JvmOutput`).

Two jobs, both on the JVM's own stdout and stderr, where Spark writes its log (log4j's console
appender) and Java prints an uncaught exception's stack:

- Silencing: a driver JVM started in the background and abandoned by a run that failed first
  would print Spark's start-up banner and WARN lines after the run's `Error:` line, even after
  the driver has exited (spark/starter.py). `silence()` stops the copying; what the JVM writes
  then is read and dropped, so it never blocks.
- Quieting known noise (`QUIET_JAVA_ERRORS`): a Spark Connect server whose operation is
  interrupted just as its result stream ends (Ctrl-C during a search: `interruptTag`) fails its
  own bookkeeping with `SPARK_CONNECT_ILLEGAL_STATE.STREAM_LIFECYCLE_ALREADY_COMPLETED`, which
  escapes the operation's thread: Java prints it as an 8-line stack between the run's
  `Search interrupted` line and its `finished trial(s)` line. Nothing is lost (the operation was
  cancelled anyway), so that stack goes to this module's logger at DEBUG (a log file, when
  conf/logging.yml sends DEBUG there), not to the console. Every other line passes unchanged.

A local Spark Connect server (`spark.remote: local[N]`) is a JVM that pyspark launches inside
`SparkSession.builder.remote(...).getOrCreate()`, with no way to pass it pipes:
`JvmOutput.inherited_stderr()` points this process's stderr at a pipe while it is launched, so
the JVM inherits it, and restores it at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Iterator
from typing import Any

logger = logging.getLogger(__name__)

# The start of a Java error whose stack is kept off the console (the line that names it: Java's
# `Exception in thread "…" org.apache.spark.SparkIllegalStateException: [SPARK_CONNECT_…] …`).
QUIET_JAVA_ERRORS = (b"SPARK_CONNECT_ILLEGAL_STATE.STREAM_LIFECYCLE_ALREADY_COMPLETED",)
# The lines that continue a Java stack: frames, `... N more`, causes and suppressed exceptions.
_STACK_CONTINUATION = re.compile(rb"^(\s+at |\s+\.\.\. \d+ more|\s*Caused by: |\s+Suppressed: )")


class QuietStacks:
    """Decides line by line what reaches the console: not the stack of a `QUIET_JAVA_ERRORS`
    error (its first line and every continuation line), which is logged at DEBUG instead."""

    def __init__(self) -> None:
        self._in_stack = False
        self._held: list[bytes] = []

    def keep(self, line: bytes) -> bool:
        if self._in_stack and _STACK_CONTINUATION.match(line):
            self._held.append(line)
            return False
        self._in_stack = any(marker in line for marker in QUIET_JAVA_ERRORS)
        if self._in_stack:
            self.flush()
            self._held = [line]
        return not self._in_stack

    def flush(self) -> None:
        """Log the lines held back, if any (at the end of each read: the JVM may write nothing
        more for long, or exit after us)."""
        if self._held:
            held, self._held = self._held, []
            logger.debug(
                "Spark Connect's own error after an interrupt, kept off the console:\n%s",
                b"".join(held).decode(errors="replace").rstrip(),
            )


class JvmOutput:
    """Pipes for a JVM's stdout and stderr, copied to this process's (without the stacks of
    `QUIET_JAVA_ERRORS`) until `silence()`."""

    def __init__(self) -> None:
        self._silenced = threading.Event()
        self._write_ends: list[int] = []

    def popen_kwargs(self) -> dict[str, Any]:
        """`stdout` and `stderr` for the JVM's Popen (PySpark's `launch_gateway`)."""
        # File descriptors 1 and 2, which the JVM would inherit (not sys.stdout, which a
        # notebook or a test may have replaced by an object without one).
        return {"stdout": self._pipe_to(1, "stdout"), "stderr": self._pipe_to(2, "stderr")}

    def _pipe_to(self, target: int, name: str, owned: bool = False) -> int:
        """The write end of a pipe whose reader copies to `target` (a file descriptor, closed
        at the end when `owned`)."""
        read_end, write_end = os.pipe()
        self._write_ends.append(write_end)
        threading.Thread(
            target=self._copy,
            args=(read_end, target, owned),
            name=f"spark-jvm-{name}",
            daemon=True,
        ).start()
        return write_end

    @contextlib.contextmanager
    def inherited_stderr(self) -> Iterator[None]:
        """This process's stderr (file descriptor 2) pointed at a pipe of this output while the
        block runs: a process launched in it (a JVM) inherits the pipe; ours is restored after.

        The copy goes to a duplicate of the original stderr, closed when the copying thread
        ends (when the JVM and its children have exited). A process without a stderr (closed)
        launches as before.
        """
        try:
            original = os.dup(2)
        except OSError:
            yield
            return
        os.dup2(self._pipe_to(original, "stderr", owned=True), 2)
        try:
            yield
        finally:
            os.dup2(original, 2)
            self.launched()

    def launched(self) -> None:
        """Close our copies of the write ends (the JVM holds its own), so the copying threads end
        when the JVM does."""
        for write_end in self._write_ends:
            with contextlib.suppress(OSError):
                os.close(write_end)
        self._write_ends = []

    def silence(self) -> None:
        self._silenced.set()

    def _copy(self, read_end: int, target: int, owned: bool) -> None:
        # By file descriptor: the JVM's bytes as it wrote them, and no Python buffer that could
        # hold them past the lines logged after them. Whole lines are filtered; a partial line
        # waits for its end, but for a progress bar's `\r` updates, which pass at once.
        quiet, partial = QuietStacks(), b""
        with os.fdopen(read_end, "rb", buffering=0) as source:
            while chunk := source.read(65536):
                *lines, partial = (partial + chunk).split(b"\n")
                out = b"".join(line + b"\n" for line in lines if quiet.keep(line + b"\n"))
                if b"\r" in partial:
                    out, partial = out + partial, b""
                self._write(target, out)
                quiet.flush()
        if partial and quiet.keep(partial):
            self._write(target, partial)
        quiet.flush()
        if owned:
            os.close(target)

    def _write(self, target: int, data: bytes) -> None:
        if data and not self._silenced.is_set():
            with contextlib.suppress(OSError):
                os.write(target, data)
