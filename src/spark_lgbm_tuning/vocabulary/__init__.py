"""The shared vocabulary of every layer: column names, trial statuses, LightGBM parameter
facts, stable hashes, the parameter model base and the explained errors. No Kedro import.
"""
