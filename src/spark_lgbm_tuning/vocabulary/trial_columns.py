"""Column names of a trial's row that several layers read (the trial store, tuning's tables,
reporting's freshness check and report). No Kedro import: the bottom layer."""

# A combination of parameter values; its trials are its folds (`trial_id` = combination x fold).
COMBO_ID = "combo_id"
# The trial's status: one of vocabulary/statuses.py's STATUSES.
STATUS = "status"
# A tuned parameter's column in the trial tables: `param_<LightGBM name>`.
PARAM_PREFIX = "param_"

# The fingerprint of the fold data a trial ran on (`search_space.fold_facts`): a trial is reused
# only on the same fingerprint, retention keeps the store's rows by it, and reporting refuses
# results of other fold data.
FOLD_FINGERPRINT = "fold_fingerprint"
