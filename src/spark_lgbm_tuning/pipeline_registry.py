"""Project pipelines.

The default run prepares a table, tunes on it and reports. The table is the user's
`input_table` when the run's catalog declares one (`own_data`, which `kedro run` picks then:
cli.py), else data_generation's synthetic table (`__default__`): the same preparation nodes,
their input mapped to `timeseries_data`.
"""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline, pipeline

from spark_lgbm_tuning.pipelines.preparation.pipeline import INPUT_TABLE

OWN_DATA = "own_data"
SYNTHETIC_TABLE = "timeseries_data@pandas"


def register_pipelines() -> dict[str, Pipeline]:
    """Every pipeline package, `own_data` (the user's table) and `__default__` (synthetic)."""
    pipelines = find_pipelines(raise_errors=True)
    tuned = pipelines["tuning"] + pipelines["reporting"]
    pipelines[OWN_DATA] = pipelines["preparation"] + tuned
    synthetic = pipeline(pipelines["preparation"], inputs={INPUT_TABLE: SYNTHETIC_TABLE})
    pipelines["__default__"] = pipelines["data_generation"] + synthetic + tuned
    return pipelines
