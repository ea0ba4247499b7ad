"""The driver JVM started in the background (`SessionStarter`), and its output passed on to ours
until a failed run gives it up (`jvm_output.JvmOutput`).

A JVM that starts in the background and is abandoned by a run that failed first would print
Spark's start-up banner and WARN lines after the run's `Error:` line, even after the driver has
exited: it shares our terminal and only notices that we are gone once it is up. Its stdout and
stderr therefore go through two pipes that threads copy to ours; `abandon()` stops the
copying (what the JVM writes then is read and dropped, so it never blocks), and once our process
exits its writes go nowhere.
"""

from __future__ import annotations

import threading

from pyspark import SparkConf, SparkContext
from pyspark.sql import SparkSession

from spark_lgbm_tuning.spark.jvm_output import JvmOutput
from spark_lgbm_tuning.spark.session import build_session, executor_python, start_context


class SessionStarter:
    """Starts the JVM and the SparkContext in a background thread, right away.

    A run's Spark nodes come after others (data generation, the search space), so the JVM's
    seconds of start-up overlap them instead of adding to the run. `session()` waits for the
    context and builds the SparkSession in the calling thread: the active session is per thread,
    and `SparkSession.getActiveSession()` must find it in the thread that runs the node. A
    context started outside the main thread also leaves the run's SIGINT handler in place
    (RunGuardHooks), where PySpark would install its own.
    """

    def __init__(self, conf: SparkConf, executor_start_timeout_s: float) -> None:
        self.conf = conf
        self.executor_start_timeout_s = executor_start_timeout_s
        self._context: SparkContext | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        # Set by `abandon`: a context that comes up after it is stopped by the starting thread.
        self._abandoned = False
        # Silenced by `abandon`: the JVM's start-up output must not follow the run's error.
        self._output = JvmOutput()
        executor_python(conf)  # sets PYSPARK_PYTHON before the JVM reads the environment
        self._thread = threading.Thread(
            target=self._start_context, name="spark-session-starter", daemon=True
        )
        self._thread.start()

    def _start_context(self) -> None:
        try:
            context = start_context(self.conf, self._output.popen_kwargs())
        except BaseException as error:  # noqa: BLE001 - re-raised by session()
            self._error = error
            return
        finally:
            self._output.launched()
        with self._lock:
            self._context = context
            abandoned = self._abandoned
        if abandoned:
            context.stop()

    def session(self) -> SparkSession:
        """The SparkSession on the started context, active in this thread (waits for the JVM)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return build_session(self.conf, self.executor_start_timeout_s)

    def stop(self) -> None:
        """Stop the context of a run that ended before any node needed it."""
        self._thread.join()
        if self._context is not None:
            self._context.stop()

    def abandon(self) -> None:
        """Stop the context of a failed run without waiting for the JVM to come up.

        An error in the nodes before the first Spark node (a store in use, a fold with one class)
        is reported at once instead of after the JVM's start-up: a context already up is
        stopped here, one still starting is stopped by its thread. A process that exits first
        takes its JVM with it (PySpark's gateway exits when its stdin, a pipe from us, closes).
        What the JVM prints from now on (Spark's start-up banner and WARN lines) is dropped: it
        would come after the run's error.
        """
        self._output.silence()
        with self._lock:
            self._abandoned = True
            context = self._context
        if context is not None:
            context.stop()
