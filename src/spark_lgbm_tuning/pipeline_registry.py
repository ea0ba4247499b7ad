"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline


def register_pipelines() -> dict[str, Pipeline]:
    """Register every pipeline package; the default run is data_generation -> tuning -> reporting."""
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(
        pipelines[name] for name in ("data_generation", "tuning", "reporting") if name in pipelines
    )
    return pipelines
