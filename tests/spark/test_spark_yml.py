"""spark/spark_yml.py: spark.yml's paths are the project's; which file sets the master."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from kedro.config import OmegaConfigLoader

from spark_lgbm_tuning.spark.spark_yml import in_project, spark_yml
from tests.project_copy import PROJECT_ROOT


def test_relative_paths_become_the_projects_and_uris_and_aliases_stay(tmp_path: Path):
    settings = {
        "spark.archives": "dist/env.tar.gz#environment",
        "spark.files": "conf/a.txt, hdfs://nn/b.txt,local:/opt/c.txt",
        "spark.jars": "/abs/d.jar",
        "spark.pyspark.python": "./environment/bin/python",  # the executor's own folder
        "spark.master": "local[2]",
    }

    resolved = in_project(settings, tmp_path)

    assert resolved["spark.archives"] == f"{tmp_path}/dist/env.tar.gz#environment"
    assert resolved["spark.files"] == f"{tmp_path}/conf/a.txt,hdfs://nn/b.txt,local:/opt/c.txt"
    assert resolved["spark.jars"] == "/abs/d.jar"
    assert resolved["spark.pyspark.python"] == "./environment/bin/python"
    assert resolved["spark.master"] == "local[2]"
    assert settings["spark.archives"] == "dist/env.tar.gz#environment"  # not changed in place


def _context(project: Path, env: str | None) -> SimpleNamespace:
    """What spark_yml reads of a KedroContext (loading a real one would start its Spark)."""
    loader = OmegaConfigLoader(
        str(project / "conf"), env=env, base_env="base", default_run_env="local"
    )
    return SimpleNamespace(config_loader=loader, env=env, project_path=project)


def test_the_file_that_sets_the_master_is_the_envs_own_else_bases():
    cluster = spark_yml(_context(PROJECT_ROOT, "cluster"))
    local = spark_yml(_context(PROJECT_ROOT, None))

    assert (cluster.env, cluster.master_file, cluster.master_from_variable) == (
        "cluster",
        "conf/cluster/spark.yml",
        True,
    )
    assert (local.env, local.master_file, local.master_from_variable) == (
        "local",
        "conf/base/spark.yml",
        False,
    )
    assert cluster.project_path == PROJECT_ROOT
