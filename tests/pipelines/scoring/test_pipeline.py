"""The scoring pipeline as users run it: the penguins example's refit model scores the table on a
classic session, on a standalone cluster and on Spark Connect, each giving the same scores."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spark_lgbm_tuning.pipelines.scoring import create_pipeline
from tests.cluster import flat_output, kedro_run
from tests.project_copy import PROJECT_ROOT, copy_project

PENGUINS = "data/01_raw/penguins.csv"
SCORED = "data/07_model_output/scored_table.parquet"
# What scoring reads besides the table: the refit model and the encoding stored with it.
MODEL_FILES = ("data/06_models", "data/05_model_input/input_encoding.json")
UNTRACKED = ("--params", "tracking.enabled=false")


def test_node_and_datasets():
    pipeline = create_pipeline()
    assert [node.name for node in pipeline.nodes] == ["score_table"]
    assert pipeline.outputs() == {"scored_table"}
    assert "spark" in pipeline.nodes[0].tags


@pytest.fixture(scope="module")
def classic(tmp_path_factory) -> Path:
    """The penguins example tuned and scored on conf/base's local[*]."""
    project = copy_project(tmp_path_factory.mktemp("classic") / "project")
    shutil.copy(PROJECT_ROOT / PENGUINS, project / PENGUINS)
    for args in ((), ("--pipelines", "scoring")):
        run = kedro_run(project, "--env", "penguins", *args, *UNTRACKED)
        assert run.returncode == 0, flat_output(run)[-3000:]
    return project


def _scoring_project(classic: Path, destination: Path, env: str) -> Path:
    """A copy whose `env` also holds the penguins example's conf, with the classic run's model."""
    project = copy_project(destination)
    shutil.copy(PROJECT_ROOT / PENGUINS, project / PENGUINS)
    for conf in (PROJECT_ROOT / "conf/penguins").iterdir():
        shutil.copy(conf, project / "conf" / env / conf.name)
    for name in MODEL_FILES:
        source, target = classic / name, project / name
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy(source, target)
    return project


def _same_scores(project: Path, classic: Path) -> None:
    scored = pd.read_parquet(project / SCORED)
    expected = pd.read_parquet(classic / SCORED)
    assert len(scored) == len(expected) == 344
    key = ["species", "island", "bill_length_mm", "bill_depth_mm", "body_mass_g", "year"]
    scored = scored.sort_values(key, ignore_index=True)
    expected = expected.sort_values(key, ignore_index=True)
    np.testing.assert_allclose(scored["probability_female"], expected["probability_female"])
    assert scored["prediction"].tolist() == expected["prediction"].tolist()


@pytest.mark.slow
def test_spark_connect_scores_as_the_classic_session(classic, tmp_path):
    project = _scoring_project(classic, tmp_path / "connect", "connect")
    run = kedro_run(project, "--env", "connect", "--pipelines", "scoring", *UNTRACKED)
    assert run.returncode == 0, flat_output(run)[-3000:]
    _same_scores(project, classic)


@pytest.mark.slow
@pytest.mark.cluster
def test_a_standalone_cluster_scores_as_the_classic_session(classic, tmp_path, standalone_cluster):
    project = _scoring_project(classic, tmp_path / "cluster", "cluster")
    run = kedro_run(
        project,
        "--env",
        "cluster",
        "--pipelines",
        "scoring",
        *UNTRACKED,
        spark_master=standalone_cluster.master_url,
    )
    assert run.returncode == 0, flat_output(run)[-3000:]
    _same_scores(project, classic)
