"""scoring: the refit model applied to a new table on the Spark executors."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
