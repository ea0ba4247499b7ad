"""Before a run: every dataset it reads and no node of it writes exists (RunGuardHooks calls
`check_inputs_exist` before any node); a missing one is named with the pipeline that makes it.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from spark_lgbm_tuning.spark.nodes import is_spark_dataset
from spark_lgbm_tuning.user_tables import USER_TABLES
from spark_lgbm_tuning.vocabulary.errors import ExplainedError, ProjectFileError, file_in_the_way


class MissingInputError(ExplainedError, RuntimeError):
    """A dataset the run reads, and no node of it writes, does not exist."""


def _producers(dataset: str) -> list[str]:
    """Names of the project's pipeline packages that write `dataset` (transcoding ignored).

    Not `kedro.framework.project.pipelines` nor `find_pipelines`: a run loads only the pipelines
    it was asked for, and the producer is usually another one.
    """
    package = importlib.import_module("spark_lgbm_tuning.pipelines")
    base = dataset.split("@", maxsplit=1)[0]
    found = []
    for module in pkgutil.iter_modules(package.__path__):
        create = getattr(
            importlib.import_module(f"{package.__name__}.{module.name}"), "create_pipeline", None
        )
        if create is None:
            continue
        outputs = create().all_outputs()
        if any(output.split("@", maxsplit=1)[0] == base for output in outputs):
            found.append(module.name)
    return sorted(found)


def check_inputs_exist(pipeline, catalog) -> None:
    """Fail, naming the dataset and how to make it, when a free input of `pipeline` is missing."""
    for name in sorted(pipeline.inputs()):
        if name in USER_TABLES and name not in catalog:
            raise MissingInputError(
                f"{name} is not declared: declare your table in conf/local/catalog.yml (README, "
                '"Tune your own data"), or run `kedro run` alone to tune the synthetic table'
            )
        if name.startswith("params:") or name == "parameters" or name not in catalog:
            continue
        if is_spark_dataset(catalog, name):
            # Its `exists()` would start a JVM (with the default conf) before SparkHooks does;
            # the node that loads it fails with Spark's "Path does not exist" instead.
            continue
        if catalog.exists(name):
            continue
        producers = _producers(name)
        fix = (
            f"run `kedro run --pipelines {producers[0]}` first"
            if producers
            else "create it, or point its catalog entry at existing data"
        )
        filepath = catalog.config_resolver.resolve_pattern(name).get("filepath")
        blocker = file_in_the_way(Path(filepath)) if filepath else None
        if blocker is not None:
            raise ProjectFileError(
                f"Input dataset '{name}' cannot be read: {blocker} is a file where a folder "
                f"should be (on the way to {filepath}): move it away (or delete it), then {fix}."
            )
        raise MissingInputError(
            f"Input dataset '{name}' does not exist ({catalog.get(name)}): {fix}."
        )
