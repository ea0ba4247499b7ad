"""A trial's status: the one vocabulary of the executors, the driver, the trial store and the report.

No Kedro import, so the executor side (trial.py) imports it too.
"""

OK = "ok"
FAILED = "failed"
# Its boosting run passed TrialSpec.timeout_s.
TIMED_OUT = "timed_out"
# A fold of a combination the adaptive search stopped early (its metrics are kept; the
# combination is not ranked).
PRUNED = "pruned"
STATUSES = (OK, FAILED, TIMED_OUT, PRUNED)
