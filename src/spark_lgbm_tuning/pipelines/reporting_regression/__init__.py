"""The `reporting_regression` pipeline: the reporting pipeline on the regression search's results."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
