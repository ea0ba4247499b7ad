"""preparation: the user's table (or the synthetic one) -> the model input and its folds."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
