"""The id of one run of the search: in tuning_run_info and in the `attrs` of the tables written
beside it (tuning_results, tuning_predictions, tuning_learning_curves). The datasets move the set
into place by it (datasets/search_outputs.py) and reporting refuses a set two runs wrote
(pipelines/reporting/current.py). No Kedro import: the bottom layer."""

SEARCH_ID = "search_id"
