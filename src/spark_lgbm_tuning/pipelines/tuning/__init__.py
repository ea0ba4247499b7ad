"""The `tuning` pipeline: LightGBM grid search over time-ordered folds, one Spark task per trial.

What other parts of the project (the config loader) use of it is exported here; its modules are
its own.
"""

from .params import GRID_REPLACE, TuningParams
from .pipeline import create_pipeline
from .search_params import parsed_range

__all__ = ["GRID_REPLACE", "TuningParams", "create_pipeline", "parsed_range"]
