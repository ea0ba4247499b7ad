"""Shipping the folds: each (fold, Dataset params) binned once on the driver, added with addFile
(addArtifacts under Spark Connect).

Executors load the shipped files (`trial.load_shipped_fold`), so a fold is binned once per
search rather than once per executor process.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from spark_lgbm_tuning.executor.fold_data import bin_test_part, bin_train_part, write_test_part
from spark_lgbm_tuning.executor.trial import failed_row
from spark_lgbm_tuning.executor.trial_spec import TrialSpec
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays

logger = logging.getLogger(__name__)


def _key(spec: TrialSpec) -> tuple[int, str]:
    """Trials with equal keys train on one binned fold."""
    return spec.fold_id, spec.dataset_key


# Shipped fold files must outlive their search: an executor fetches every file added to its
# SparkContext when it starts its next task, which may belong to a later search (or be a
# replacement executor's first task), and a missing source fails that task. They are removed
# once their SparkContext has stopped (a new one runs the next search) or when Python exits.
SHIPPED_DIRS: dict[str, list[Path]] = {}


def _remove_shipped(keep_app_id: str | None = None) -> None:
    for app_id in [app_id for app_id in SHIPPED_DIRS if app_id != keep_app_id]:
        for path in SHIPPED_DIRS.pop(app_id):
            shutil.rmtree(path, ignore_errors=True)


def shipping_dir(app_id: str) -> Path:
    """A fresh folder for one search's fold files, kept while the application `app_id` lives
    (see SHIPPED_DIRS)."""
    if not SHIPPED_DIRS:
        atexit.register(_remove_shipped)
    _remove_shipped(keep_app_id=app_id)
    workdir = Path(tempfile.mkdtemp(prefix="lgbm_tuning_"))
    SHIPPED_DIRS.setdefault(app_id, []).append(workdir)
    return workdir


class FoldShipper:
    """Bins each (fold, Dataset params) of a search once and ships it with `add_file`
    (SparkContext.addFile, or addArtifacts(file=True) under Spark Connect): the train
    part and the test part (binned with the train part's bins) as LightGBM binaries, and the
    raw test part as .npy.

    A background thread works through the folds in the order the planned task groups first
    need them: the first job starts as soon as its own fold is ready, and the other folds are
    binned while it runs (LightGBM, hashlib and file writes release the GIL) instead of keeping
    every executor idle until the last fold is binned. `prepare(group)` waits for its group's
    fold only.
    """

    def __init__(
        self,
        add_file: Callable[[str], None],
        arrays: FoldArrays,
        specs: Sequence[TrialSpec],
        workdir: Path,
    ) -> None:
        self.add_file = add_file
        self.arrays = arrays
        self.workdir = workdir
        # Names carry the run token: SparkFiles is flat, and a name added twice with other
        # content is refused.
        self.token = workdir.name
        # (fold, Dataset params) -> the parameters of the first trial binned with them.
        self.params_of: dict[tuple[int, str], dict[str, Any]] = {}
        for spec in specs:
            self.params_of.setdefault(_key(spec), spec.params)
        self.binning_s = 0.0
        self._test_parts: dict[int, tuple[str, str]] = {}
        self._shipped: dict[tuple[int, str], Future[dict[str, str] | Exception]] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fold-shipper")

    def start(self, groups: Sequence[list[TrialSpec]]) -> None:
        """Queue every fold the groups use, in the order they first appear."""
        for group in groups:
            key = _key(group[0])
            self.params_of.setdefault(key, group[0].params)
            if key not in self._shipped:
                self._shipped[key] = self._pool.submit(self._ship, key)

    def close(self) -> None:
        """Drop the folds not started yet and wait for the one being binned."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def prepare(self, group: list[TrialSpec]) -> tuple[list[TrialSpec], list[dict[str, Any]]]:
        """The group with its shipped files, or no specs and failed rows if LightGBM cannot bin
        its fold (that fails the same way every time: stored as final)."""
        key = _key(group[0])
        self.params_of.setdefault(key, group[0].params)
        if key not in self._shipped:
            self._shipped[key] = self._pool.submit(self._ship, key)
        outcome = self._shipped[key].result()
        if isinstance(outcome, Exception):
            return [], [failed_row(spec, outcome) for spec in group]
        return [dataclasses.replace(spec, **outcome) for spec in group], []

    def _ship(self, key: tuple[int, str]) -> dict[str, str] | Exception:
        fold_id, dataset_key = key
        x_train, y_train, x_test, y_test = self.arrays.split(fold_id)
        if fold_id not in self._test_parts:
            test_x = f"{self.token}_fold{fold_id}_test_x.npy"
            test_y = f"{self.token}_fold{fold_id}_test_y.npy"
            write_test_part(x_test, y_test, self.workdir / test_x, self.workdir / test_y)
            self.add_file(str(self.workdir / test_x))
            self.add_file(str(self.workdir / test_y))
            self._test_parts[fold_id] = (test_x, test_y)
        test_x, test_y = self._test_parts[fold_id]
        train_bin = f"{self.token}_fold{fold_id}_train_{dataset_key}.bin"
        valid_bin = f"{self.token}_fold{fold_id}_valid_{dataset_key}.bin"
        started = time.perf_counter()
        try:
            binned = bin_train_part(x_train, y_train, self.params_of[key])
            # Binned here once rather than by every executor process that runs this fold.
            valid = bin_test_part(x_test, y_test, binned, self.params_of[key])
            # workdir is fresh: LightGBM's save_binary keeps (and warns about) an existing file.
            binned.save_binary(str(self.workdir / train_bin))
            valid.save_binary(str(self.workdir / valid_bin))
        except Exception as error:  # noqa: BLE001 - LightGBM's refusal becomes failed trials
            return error
        finally:
            self.binning_s += time.perf_counter() - started
        self.add_file(str(self.workdir / train_bin))
        self.add_file(str(self.workdir / valid_bin))
        logger.info(
            "Fold %d: %d train / %d test rows binned and shipped",
            fold_id,
            len(y_train),
            len(y_test),
        )
        return {
            "train_file": train_bin,
            "valid_file": valid_bin,
            "test_x_file": test_x,
            "test_y_file": test_y,
        }
