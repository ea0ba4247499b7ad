"""Reporting: leaderboard, best parameters, refit model, plots and the HTML report."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
