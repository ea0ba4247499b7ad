"""What a run's spark.yml means beyond its settings: which file set the master and whether it
reads SPARK_MASTER (for the advice of an unset master), and its paths, which are the project's.

A relative path in spark.yml is the project's, as the catalog's filepaths are, wherever `kedro
run` starts (a subfolder, a notebook's): `in_project` makes them absolute before the session is
built, so the archive the executors unpack is the one `kedro pack-executor-env` wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from spark_lgbm_tuning.spark.executor_env import ARCHIVES_KEY
from spark_lgbm_tuning.vocabulary.errors import SparkConfigError

MASTER_VARIABLE = "SPARK_MASTER"
# Settings of spark.yml that name files or folders the driver reads or writes: a relative one is
# the project's, as the catalog's filepaths are, wherever `kedro run` starts (a subfolder, a
# notebook's). Comma-separated lists; `path#alias` keeps its alias; URIs (hdfs://, file://, local:)
# stay as written. Paths an executor resolves in its own directory
# (spark.pyspark.python: ./environment/bin/python) and per-machine ones (spark.local.dir) are not.
PROJECT_PATH_KEYS = (
    ARCHIVES_KEY,
    "spark.files",
    "spark.jars",
    "spark.pyFiles",
    "spark.submit.pyFiles",
    "spark.sql.warehouse.dir",
    "spark.eventLog.dir",
)


@dataclass(frozen=True)
class SparkYml:
    """Where a run's spark.yml settings come from: what its paths are relative to, and what
    the advice of its errors names (the hook builds it from the Kedro context)."""

    env: str  # the run's env, as `kedro run --env` takes it
    project_path: Path
    master_file: str = "spark.yml"  # the file that sets spark.master (conf/<env>/spark.yml)
    master_from_variable: bool = True  # that file reads spark.master from MASTER_VARIABLE


def in_project(settings: dict[str, Any], project_path: Path) -> dict[str, Any]:
    """`settings` with the relative paths of PROJECT_PATH_KEYS made absolute in `project_path`."""
    resolved = dict(settings)
    for key in PROJECT_PATH_KEYS:
        value = settings.get(key)
        if not value:
            continue
        entries = [entry.strip() for entry in str(value).split(",") if entry.strip()]
        resolved[key] = ",".join(
            entry if urlparse(entry).scheme else str(Path(project_path, entry)) for entry in entries
        )
    return resolved


def unset_master_error(origin: SparkYml | None) -> SparkConfigError:
    """spark.master unset: the fix for the env the user ran, in a command that keeps it."""
    if origin is None:
        return SparkConfigError(
            f"spark.master is not set: set it in spark.yml, or export {MASTER_VARIABLE} for an "
            f"env whose spark.yml reads it, e.g. {MASTER_VARIABLE}=spark://127.0.0.1:7077 "
            "kedro run --env cluster"
        )
    if not origin.master_from_variable:
        return SparkConfigError(
            f"spark.master is not set: {origin.master_file} sets it to null; set it there to a "
            "master URL (local[*], spark://host:7077) and rerun"
        )
    return SparkConfigError(
        f"spark.master is not set: {origin.master_file} reads it from {MASTER_VARIABLE}, which "
        f"is unset. With `--env {origin.env}`, export {MASTER_VARIABLE} first, e.g. "
        f"{MASTER_VARIABLE}=spark://127.0.0.1:7077 kedro run --env {origin.env}"
    )


def spark_yml(context) -> SparkYml:
    """Where the run's spark.yml comes from: its env (`kedro run` without --env: conf/local), the
    project (relative paths are its), and the file that sets spark.master, the env's own, else
    base's, with whether it reads it from SPARK_MASTER."""
    loader = context.config_loader
    env = context.env or loader.default_run_env
    master_file, from_variable = "conf/base/spark.yml", True
    for folder in (env, loader.base_env):
        text = _read_if_file(Path(loader.conf_source) / folder / "spark.yml")
        if "spark.master" in text:
            master_file, from_variable = f"conf/{folder}/spark.yml", MASTER_VARIABLE in text
            break
    return SparkYml(
        env=env,
        project_path=Path(context.project_path),
        master_file=master_file,
        master_from_variable=from_variable,
    )


def _read_if_file(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""
