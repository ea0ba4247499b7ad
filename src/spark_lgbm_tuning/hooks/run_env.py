"""Hooks about the run's Kedro env: the report learns it; parameter files it skips are named."""

from __future__ import annotations

import logging

from kedro.framework.hooks import hook_impl

from spark_lgbm_tuning.config_loader import ProjectConfigLoader
from spark_lgbm_tuning.datasets.run_environment import RunEnvironmentDataset

logger = logging.getLogger(__name__)


class RunEnvironmentHooks:
    """Hands the run's Kedro env to the `run_environment` dataset.

    `kedro run --env X` sets no KEDRO_ENV variable, so the dataset cannot read the env itself;
    the context knows it (None: the default run env, conf/local over conf/base).
    """

    DATASET = "run_environment"

    def __init__(self) -> None:
        self._env: str | None = None

    @hook_impl
    def after_context_created(self, context) -> None:
        self._env = context.env or context.config_loader.default_run_env

    @hook_impl
    def after_catalog_created(self, catalog) -> None:
        if self.DATASET in catalog:
            dataset = catalog.get(self.DATASET)
            if isinstance(dataset, RunEnvironmentDataset):
                dataset.kedro_env = self._env


class SkippedConfigHooks:
    """Names, in one warning, the parameter files of conf/local that this run does not read.

    Kedro reads conf/base and the run's env only, so with `--env connect` (or KEDRO_ENV) a grid
    in conf/local/parameters_tuning.yml was dropped without a word. First of the context's hooks
    (`tryfirst`), so the warning comes before any check of the env that may end the run.
    """

    @hook_impl(tryfirst=True)
    def after_context_created(self, context) -> None:
        loader = context.config_loader
        if not isinstance(loader, ProjectConfigLoader):
            return
        unread = loader.unread_parameter_files()
        if not unread:
            return
        env, default = context.env, loader.default_run_env
        logger.warning(
            "%s %s parameters that the %s env does not read (a run reads conf/base and "
            "conf/%s only): move them to conf/%s/, or run with the default env (no --env or "
            "KEDRO_ENV) to read conf/%s",
            ", ".join(unread),
            "holds" if len(unread) == 1 else "hold",
            env,
            env,
            env,
            default,
        )
