"""The `tuning_regression` pipeline: the tuning nodes on the regression data, namespaced."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
