"""jvm_output.py: a JVM's output reaches the console, but for the stack of Spark Connect's own
error after an interrupt (`SPARK_CONNECT_ILLEGAL_STATE.STREAM_LIFECYCLE_ALREADY_COMPLETED`),
which goes to the log at DEBUG. The slow test starts the project's local Spark Connect server
(conf/connect: pyspark launches its JVM) and sends the process a real SIGINT."""

from __future__ import annotations

import logging
import textwrap

import pytest

from spark_lgbm_tuning.spark.jvm_output import QuietStacks
from tests.cluster import run_python

MARKER = "SPARK_CONNECT_ILLEGAL_STATE.STREAM_LIFECYCLE_ALREADY_COMPLETED"
# The 8 lines a real Ctrl-C of `kedro run --env connect` printed (Java's uncaught-exception
# handler, from the server's operation thread), and a cause's lines as Java prints them.
NOISE = [
    'Exception in thread "SparkConnectExecuteThread_opId=fe2bfc70" org.apache.spark.'
    f"SparkIllegalStateException: [{MARKER}] Spark Connect encountered an illegal state "
    "condition. Stream onError can't be called after stream completed SQLSTATE: XXSC0\n",
    "\tat org.apache.spark.sql.connect.IllegalStateErrors$.streamLifecycleAlreadyCompleted("
    "IllegalStateErrors.scala:26)\n",
    "\tat org.apache.spark.sql.connect.execution.ExecuteResponseObserver.onError("
    "ExecuteResponseObserver.scala:153)\n",
    "\tat org.apache.spark.sql.connect.utils.ErrorUtils$$anonfun$handleError$1.applyOrElse("
    "ErrorUtils.scala:414)\n",
    "\tat org.apache.spark.sql.connect.utils.ErrorUtils$$anonfun$handleError$1.applyOrElse("
    "ErrorUtils.scala:411)\n",
    "\tat scala.runtime.AbstractPartialFunction.apply(AbstractPartialFunction.scala:35)\n",
    "\tat org.apache.spark.sql.connect.execution.ExecuteThreadRunner.org$apache$spark$sql$"
    "connect$execution$ExecuteThreadRunner$$execute(ExecuteThreadRunner.scala:175)\n",
    "\tat org.apache.spark.sql.connect.execution.ExecuteThreadRunner$ExecutionThread.run("
    "ExecuteThreadRunner.scala:341)\n",
    "Caused by: java.lang.InterruptedException\n",
    "\t... 3 more\n",
]
OTHER_STACK = [
    "26/12/07 13:01:42 WARN TaskSetManager: Lost task 0.0 in stage 2.0: TaskKilled\n",
    "java.lang.IllegalStateException: something else\n",
    "\tat org.apache.spark.Other.method(Other.scala:1)\n",
]


def test_the_stack_of_connects_error_after_an_interrupt_goes_to_the_log_only(caplog):
    quiet = QuietStacks()
    caplog.set_level(logging.DEBUG, logger="spark_lgbm_tuning.spark.jvm_output")
    lines = ["WARNING  Search interrupted: cancelling 2 Spark job(s) in flight\n", *NOISE]
    lines += [*OTHER_STACK, "WARNING  12 finished trial(s) of this run are in the store\n"]

    kept = [line for line in lines if quiet.keep(line.encode())]
    quiet.flush()

    assert kept == [lines[0], *OTHER_STACK, lines[-1]]
    assert [record.getMessage().splitlines()[1:] for record in caplog.records] == [
        [line.rstrip("\n") for line in NOISE]
    ]


# A Spark Connect session as conf/connect starts it (a local server in a JVM pyspark launches),
# a Spark job in flight in a thread, a real SIGINT, the job interrupted by its tag as the search
# does, and the server's JVM printing the real Spark error's stack to its stderr as Java does
# for an exception that escapes the operation's thread (the race itself is rare: it is planted).
INTERRUPT_SCRIPT = textwrap.dedent(
    """
    import logging, os, signal, sys, threading, time
    from pyspark import SparkContext
    from spark_lgbm_tuning.spark.session import build_connect_session, build_spark_conf

    logging.basicConfig(filename=sys.argv[1], level=logging.DEBUG)
    spark = build_connect_session(build_spark_conf(
        {"spark.master": None, "spark.remote": "local[1]", "spark.ui.enabled": "false"}
    ))

    def job():
        spark.addTag("group-0")
        try:
            spark.range(10**9).selectExpr("sum(id * id)").collect()
        except Exception as error:
            print("job ended:", type(error).__name__, flush=True)

    thread = threading.Thread(target=job)
    thread.start()
    time.sleep(3)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)
    except KeyboardInterrupt:
        print("Search interrupted: cancelling 1 Spark job(s) in flight", flush=True)
        spark.interruptTag("group-0")
        jvm = SparkContext._jvm
        error = jvm.org.apache.spark.sql.connect.IllegalStateErrors.streamLifecycleAlreadyCompleted(
            "onError"
        )
        jvm.System.err.print('Exception in thread "SparkConnectExecuteThread_opId=1" ')
        error.printStackTrace()
        jvm.System.err.flush()
        thread.join()
        time.sleep(1)  # the JVM's output reaches the console through a thread
        print("0 finished trial(s) of this run are in the trial store", flush=True)
    spark.stop()
    """
)


@pytest.mark.slow
def test_a_sigint_under_connect_prints_no_java_stack_between_the_interrupt_lines(tmp_path):
    log = tmp_path / "run.log"
    run = run_python(INTERRUPT_SCRIPT, str(log), timeout_s=240)
    console = run.stdout + run.stderr

    assert run.returncode == 0, console[-3000:]
    interrupted = console.index("Search interrupted: cancelling 1 Spark job(s) in flight")
    finished = console.index("0 finished trial(s) of this run are in the trial store")
    assert interrupted < finished, console[-3000:]
    between = console[interrupted:finished].splitlines()
    assert MARKER not in console, between
    assert not [line for line in between if line.startswith("\tat ")], between
    logged = log.read_text()
    assert MARKER in logged and "\tat org.apache.spark" in logged
