"""Reporting: leaderboard, best parameters, refit model, plots and the HTML report.

What other parts of the project (tracking, the hooks) use of it is exported here; its modules
are its own.
"""

from .pipeline import create_pipeline
from .prediction_plots import is_drawn
from .report import REPORT_DATASET
from .results import ok_fold_stats

__all__ = ["REPORT_DATASET", "create_pipeline", "is_drawn", "ok_fold_stats"]
