"""Project settings: the Spark hook and where the config loader finds each kind of file."""

import warnings

from omegaconf.resolvers import oc

from spark_lgbm_tuning.config_loader import ProjectConfigLoader
from spark_lgbm_tuning.hooks.report_location import ReportLocationHooks
from spark_lgbm_tuning.hooks.run_env import RunEnvironmentHooks, SkippedConfigHooks
from spark_lgbm_tuning.hooks.run_guards import RunGuardHooks, StoreLockHooks
from spark_lgbm_tuning.hooks.spark import SparkHooks
from spark_lgbm_tuning.tracking import TrackingHooks

# OmegaConf 2.4 deprecated register_new_resolver() (omry/omegaconf#1322), which Kedro 1.7's config
# loader still calls for every resolver it registers: ~36 lines of UserWarning at each start. Not
# actionable here, so ignored for that message from that module only.
warnings.filterwarnings(
    "ignore",
    message=r"register_new_resolver\(\) is deprecated",
    category=UserWarning,
    module=r"kedro\.config\.omegaconf_config",
)

HOOKS = (
    SparkHooks(),
    ReportLocationHooks(),
    # Before RunGuardHooks: of two `tryfirst` hooks pluggy calls the later registered first.
    StoreLockHooks(),
    RunGuardHooks(),
    RunEnvironmentHooks(),
    TrackingHooks(),
    # tryfirst: its warning comes before SparkHooks' checks of the env, which may end the run.
    SkippedConfigHooks(),
)
# kedro-mlflow's hook runs inside TrackingHooks (tracking/hooks.py), which keeps a tracking
# failure from failing the run; registered by its entry point as well, it would run twice. (Its
# wheel names the distribution kedro_mlflow; the other spelling in case a build normalises it.)
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow", "kedro-mlflow")

# Kedro's OmegaConfigLoader; ranges, grid_replace and the one-line errors of config_loader.py.
CONFIG_LOADER_CLASS = ProjectConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "config_patterns": {
        # conf/<env>/spark.yml: the SparkSession settings of that env (see spark/session.py).
        "spark": ["spark*", "spark*/**"],
    },
    # `--env cluster` reads the master URL from SPARK_MASTER; Kedro enables oc.env only for
    # credentials unless it is registered here.
    "custom_resolvers": {"oc.env": oc.env},
    # conf/local (or another env) overrides one key, e.g. one grid axis, without copying the
    # whole `tuning` block. An env drops a base grid axis or fixed parameter with `null`, or
    # replaces the whole grid with `grid_replace: true` (config_loader.py).
    "merge_strategy": {"parameters": "soft"},
}
