"""settings.py as a user meets it: what `kedro run` prints before the pipeline starts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.settings import CONFIG_LOADER_ARGS, CONFIG_LOADER_CLASS
from tests.cluster import kedro_run
from tests.project_copy import copy_project

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_kedro_run_prints_no_omegaconf_deprecation(tmp_path, monkeypatch):
    """Kedro 1.7's config loader calls OmegaConf's deprecated register_new_resolver(); unfiltered,
    each start prints its UserWarning several times (~36 lines)."""
    monkeypatch.delenv("PYTHONWARNINGS", raising=False)
    project = copy_project(tmp_path / "project")
    run = kedro_run(
        project,
        "--pipelines",
        "data_generation",
        "--params",
        "data_generation.n_samples=300,data_generation.n_features=4",
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "register_new_resolver" not in output
    assert "UserWarning" not in output


def _readme_override() -> str:
    """The partial override conf/README.md shows (its one yaml block), as a user copies it."""
    readme = (PROJECT_ROOT / "conf" / "README.md").read_text()
    return readme.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_a_partial_grid_override_in_conf_local_merges_over_base(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(PROJECT_ROOT / "conf" / "base", conf / "base")
    (conf / "local").mkdir()
    (conf / "local" / "parameters_tuning.yml").write_text(_readme_override())

    parameters = CONFIG_LOADER_CLASS(str(conf), **CONFIG_LOADER_ARGS)["parameters"]
    tuning = TuningParams.model_validate(parameters["tuning"])

    assert tuning.grid == {
        "num_leaves": [31, 127],
        "learning_rate": [0.05, 0.1],
        "max_depth": [6, 12],
    }
    # Everything the override does not name is base's.
    base = CONFIG_LOADER_CLASS(str(conf), env="base", **CONFIG_LOADER_ARGS)["parameters"]
    assert tuning.fixed == base["tuning"]["fixed"]
    assert tuning.num_boost_round == base["tuning"]["num_boost_round"]


def test_null_drops_a_fixed_parameter_too():
    tuning = TuningParams.model_validate(
        {
            "primary_metric": "auc_roc",
            "fixed": {"objective": "binary", "seed": None},
            "grid": {"num_leaves": [7], "max_depth": None},
        }
    )
    assert tuning.fixed == {"objective": "binary"}
    assert tuning.grid == {"num_leaves": [7]}
