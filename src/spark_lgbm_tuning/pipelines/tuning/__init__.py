"""The `tuning` pipeline: LightGBM grid search over time-ordered folds, one Spark task per trial."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
