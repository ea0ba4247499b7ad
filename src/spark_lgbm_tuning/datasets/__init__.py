"""Kedro datasets of the project (catalog `type:` entries)."""
