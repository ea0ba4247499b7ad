"""Project pipelines.

A run prepares a table, tunes on it and reports. The table is the user's `input_table` when the
run's catalog declares one: `kedro run` then runs OWN_DATA (cli.py asks `declares_input_table`).
Otherwise `__default__` tunes data_generation's synthetic table (which data_generation prepares
with the same nodes), so a fresh clone's `kedro run` works.
"""

from __future__ import annotations

import os
from pathlib import Path

from kedro.framework.project import find_pipelines, settings
from kedro.pipeline import Pipeline

from spark_lgbm_tuning.pipelines.preparation import INPUT_TABLE

# What `kedro run` runs when `input_table` is declared (`--pipelines` takes the same names).
OWN_DATA = ("preparation", "tuning", "reporting")


def register_pipelines() -> dict[str, Pipeline]:
    """Every pipeline package, and `__default__`: data_generation's table, prepared and tuned."""
    pipelines = find_pipelines(raise_errors=True)
    if "__default__" in pipelines:  # absent when a run asked for named pipelines only
        pipelines["__default__"] = sum(
            pipelines[name] for name in ("data_generation", "tuning", "reporting")
        )
    return pipelines


def declares_input_table(project_path: Path, env: str | None, conf_source: str | None) -> bool:
    """Whether the run's catalog (base + env) declares `input_table`, the user's data."""
    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=conf_source or str(project_path / settings.CONF_SOURCE),
        env=env or os.environ.get("KEDRO_ENV"),
        **settings.CONFIG_LOADER_ARGS,
    )
    return INPUT_TABLE in loader["catalog"]
