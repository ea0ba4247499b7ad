"""Synthetic time-series classification and regression data, their CV folds and fold reports."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
