"""settings.py as a user meets it: the config loader's arguments and merges. That `kedro run`
prints no OmegaConf deprecation is checked in tests/hooks/test_spark.py's data_generation run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pluggy
from kedro.framework.hooks.markers import HOOK_NAMESPACE
from kedro.framework.hooks.specs import PipelineSpecs

from spark_lgbm_tuning.hooks.run_guards import RunGuardHooks, StoreLockHooks
from spark_lgbm_tuning.hooks.spark import SparkHooks
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.settings import CONFIG_LOADER_ARGS, CONFIG_LOADER_CLASS, HOOKS
from spark_lgbm_tuning.tracking.hooks import TrackingHooks

PROJECT_ROOT = Path(__file__).resolve().parents[1]


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


def test_spark_starts_after_the_run_guards_and_before_the_tracking_run():
    """before_pipeline_run in the order Kedro's hook manager calls it: the checks that fail a
    run fast, then the JVM's start, then the rest (MLflow's run start) while it boots."""
    manager = pluggy.PluginManager(HOOK_NAMESPACE)
    manager.add_hookspecs(PipelineSpecs)
    for hook in HOOKS:  # registered in settings.py's order, as Kedro does
        manager.register(hook)
    called = [impl.plugin for impl in reversed(manager.hook.before_pipeline_run.get_hookimpls())]
    order = [type(hook) for hook in called]

    assert order[:3] == [RunGuardHooks, StoreLockHooks, SparkHooks]
    assert order.index(SparkHooks) < order.index(TrackingHooks)
