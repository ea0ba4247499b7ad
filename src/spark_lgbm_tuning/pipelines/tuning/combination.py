"""One combination of an adaptive search: its Optuna trial, its folds and where it stands."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import optuna

from spark_lgbm_tuning.executor.trial_spec import TrialSpec
from spark_lgbm_tuning.vocabulary import statuses


class CombinationState(StrEnum):
    """Where a combination stands; not a trial's status (vocabulary/statuses.py), though a
    pruned combination's folds are stored with the trial status `pruned`."""

    LIVE = "live"
    COMPLETE = "complete"
    PRUNED = statuses.PRUNED
    FAILED = "failed"


@dataclass
class Combination:
    """One proposed combination: its Optuna trial, its folds' specs in run order, its scores."""

    number: int
    values: dict[str, Any]
    specs: list[TrialSpec]
    trial: optuna.Trial | None = None
    scores: list[float] = field(default_factory=list)
    next_fold: int = 0
    running: bool = False
    state: CombinationState = CombinationState.LIVE

    @property
    def trial_ids(self) -> list[str]:
        return [spec.trial_id for spec in self.specs[: self.next_fold]]
