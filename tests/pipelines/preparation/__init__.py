"""The preparation pipeline's folds and their plots."""
