"""ReportLocationHooks: a run that wrote the HTML report ends by saying where it is."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from kedro.framework.hooks import hook_impl

from spark_lgbm_tuning.pipelines.reporting import REPORT_DATASET

logger = logging.getLogger(__name__)


class ReportLocationHooks:
    """Ends a run that wrote an HTML report by printing its path whole, next to a stable copy.

    `tuning_report` (and `regression.tuning_report`) is versioned: Kedro saves it under
    <filepath>/<run_id>/<file name>, where the run id is the session id, so the path is known
    without touching the dataset's internals. The newest report is also copied to
    <name>_latest.html beside that folder: one address to bookmark or open from a script.
    """

    def __init__(self) -> None:
        self._report_filepaths: dict[str, Path] = {}

    @hook_impl
    def after_context_created(self, context) -> None:
        self._report_filepaths = {
            name: Path(context.project_path, entry["filepath"])
            for name, entry in context.config_loader["catalog"].items()
            if (name == REPORT_DATASET or name.endswith(f".{REPORT_DATASET}"))
            and isinstance(entry, Mapping)
            and entry.get("filepath")
        }

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline) -> None:
        written = pipeline.all_outputs()
        for name, filepath in self._report_filepaths.items():
            if name not in written:
                continue
            report = filepath / run_params["run_id"] / filepath.name
            if not report.is_file():
                logger.warning("The run wrote '%s' but %s is missing", name, report)
                continue
            latest = filepath.with_name(f"{filepath.stem}_latest{filepath.suffix}")
            shutil.copyfile(report, latest)
            logger.info("The tuning report is at %s (latest copy: %s)", report, latest)
            # Rich's log handler folds long paths mid-word at the terminal width: the path is
            # also printed on a line of its own, whole, so that it can be copied.
            click.echo(f"Report: {latest}")
