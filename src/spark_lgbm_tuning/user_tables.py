"""The user's tables are read, never written: a run whose outputs would land on one is refused.

`input_table` (what to tune) and `scoring_table` (what to score) are declared by the user in
conf/<env>/catalog.yml and may point anywhere: a CSV in their home folder, a Spark or Hive
table. No node writes them; what this guards is a catalog in which another dataset, one the run
does write, resolves to the same file, folder or table (pointing `timeseries_data` at one's own
CSV once made data_generation overwrite it). Checked before any node runs (RunGuardHooks).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from spark_lgbm_tuning.vocabulary.errors import InputDataError

USER_TABLES = ("input_table", "scoring_table")
# Where a kedro-datasets entry keeps its data: a file or folder, or a table.
_LOCATION_KEYS = ("filepath", "path")
_TABLE_KEYS = ("table", "table_name")


def location(config: dict[str, Any]) -> str | None:
    """The entry's file or folder (resolved) or its table (database.table), if it names one."""
    for key in _LOCATION_KEYS:
        value = config.get(key)
        if isinstance(value, str) and value:
            local = value.removeprefix("file://")
            return str(Path(local).resolve()) if "://" not in local else local.rstrip("/")
    for key in _TABLE_KEYS:
        value = config.get(key)
        if isinstance(value, str) and value:
            database = config.get("database") or config.get("schema") or ""
            return f"table:{database}.{value}".lower()
    return None


def _config(catalog, name: str) -> dict[str, Any]:
    return catalog.config_resolver.resolve_pattern(name) or {}


def scoring_tags(catalog, model_text: str) -> dict[str, str]:
    """What MLflow records of a scoring run: which model (its version and digest) scored which
    table."""
    model = catalog.get("refit_model")
    version = model.resolve_load_version() if hasattr(model, "resolve_load_version") else None
    return {
        "scoring.table": location(_config(catalog, "scoring_table")) or "scoring_table",
        "scoring.model_version": version or "unversioned",
        "scoring.model_sha256": hashlib.sha256(model_text.encode()).hexdigest(),
    }


def check_user_tables_untouched(pipeline, catalog) -> None:
    """Fail in one line when a dataset the pipeline writes is one of the user's tables."""
    declared = {
        name: where
        for name in USER_TABLES
        if name in catalog and (where := location(_config(catalog, name)))
    }
    if not declared:
        return
    for output in sorted(pipeline.all_outputs()):
        if output in declared:
            raise InputDataError(
                f"A node writes {output}, which is your data and only ever read: rename that "
                "node's output"
            )
        written = location(_config(catalog, output))
        for name, where in declared.items():
            if written == where:
                raise InputDataError(
                    f"{output} would be written to {where}, which is {name} (your data, "
                    f"never written): point {output} or {name} at another path in the catalog"
                )
