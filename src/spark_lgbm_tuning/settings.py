"""Project settings: the Spark hook and where the config loader finds each kind of file."""

from omegaconf.resolvers import oc

from spark_lgbm_tuning.hooks import ReportLocationHooks, RunGuardHooks, SparkHooks

HOOKS = (SparkHooks(), ReportLocationHooks(), RunGuardHooks())

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "config_patterns": {
        # conf/<env>/spark.yml: the SparkSession settings of that env (see spark_session.py).
        "spark": ["spark*", "spark*/**"],
    },
    # `--env cluster` reads the master URL from SPARK_MASTER; Kedro enables oc.env only for
    # credentials unless it is registered here.
    "custom_resolvers": {"oc.env": oc.env},
}
