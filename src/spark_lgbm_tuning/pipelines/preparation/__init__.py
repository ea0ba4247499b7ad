"""preparation: the user's table (or the synthetic one) -> the model input and its folds.

What other parts of the project (the pipeline registry) use of it is exported here; its modules
are its own.
"""

from .pipeline import INPUT_TABLE, create_pipeline

__all__ = ["INPUT_TABLE", "create_pipeline"]
