"""The trials' own test-part predictions and learning curves, kept on the driver for the
combinations that can still lead the leaderboard; written as `tuning_predictions` and
`tuning_learning_curves` for the report (no fold is fit again for it).

Memory bound: the buffer holds the predictions of at most `KEPT_COMBINATIONS` + 1 combinations
(one over while a new fold is weighed), i.e. (KEPT_COMBINATIONS + 1) x the rows of all test parts
float64 values (10 combinations x 100k test rows: ~9 MB), plus each kept fold's learning curve
(rounds x metrics floats). While the search runs, a combination is weighed by the running mean of
its primary metric over the folds seen so far; a pruned combination is dropped at once (the
leaderboard never ranks it). At the end the kept set is the `KEPT_COMBINATIONS` best fully
evaluated combinations by their mean over ok folds.

What the buffer holds is also stored: the search appends each row's predictions and curve to the
trial store beside its result while the buffer keeps them (`held`), and the store's compaction
keeps those of the final leaders only (`trial_ids`), so the store's share is bounded as the
buffer is. The leaders' ok folds whose predictions are not here (reused from the trial store) are
read back from it; those it lacks too (a store written before it kept them, or folds dropped
while another combination led) are run again on Spark for their predictions only (search.py),
so a resumed search reports as a fresh one does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from spark_lgbm_tuning.executor.predict import PROBABILITY_PREFIX
from spark_lgbm_tuning.executor.scoring import primary_score
from spark_lgbm_tuning.executor.trial_spec import LEARNING_CURVE, TEST_PREDICTIONS
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.vocabulary.statuses import OK, PRUNED
from spark_lgbm_tuning.vocabulary.trial_columns import COMBO_ID, STATUS

# Combinations whose predictions a search keeps: the report shows the best one; the others make
# a tie within the leaderboard's rounding safe (reporting.tie_decimals).
KEPT_COMBINATIONS = 10
# Multiclass adds `probability_<k>` per class k after these (`predicted`: the most probable class).
PREDICTION_COLUMNS = [COMBO_ID, "fold_id", "row", "actual", "predicted"]
CURVE_COLUMNS = [COMBO_ID, "fold_id", "round", "metric", "value", "best_iteration"]


class PredictionBuffer:
    """The leading combinations' fold predictions and curves (see module doc for the bound)."""

    def __init__(
        self, params: TuningParams, arrays: FoldArrays, keep: int = KEPT_COMBINATIONS
    ) -> None:
        self.params = params
        self.arrays = arrays
        self.keep = keep
        # combo_id -> fold_id -> (predictions, learning curve, best iteration)
        self.kept: dict[str, dict[int, tuple[np.ndarray, dict[str, list[float]], int]]] = {}
        # combo_id -> fold_id -> primary metric (None: the fold failed): the running means.
        self.scores: dict[str, dict[int, float | None]] = {}

    def add(self, rows: Iterable[Mapping[str, Any]], *, evict: bool = True) -> None:
        """Take the predictions of ok rows (a pruned row drops its combination); with `evict`,
        drop the combinations beyond `keep` with the worst running mean."""
        for row in rows:
            combo_id, fold_id = str(row[COMBO_ID]), int(row["fold_id"])
            if row[STATUS] == PRUNED:
                self.kept.pop(combo_id, None)
                self.scores[combo_id] = {}
                continue
            self.scores.setdefault(combo_id, {})[fold_id] = primary_score(
                row, self.params.primary_metric
            )
            if row[STATUS] == OK and row.get(TEST_PREDICTIONS) is not None:
                self.kept.setdefault(combo_id, {})[fold_id] = (
                    np.asarray(row[TEST_PREDICTIONS], dtype=np.float64),
                    dict(row.get(LEARNING_CURVE) or {}),
                    int(row["best_iteration"]),
                )
        if evict:
            while len(self.kept) > self.keep:
                del self.kept[min(self.kept, key=self._running_rank)]

    def held(self, rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The `rows` whose predictions the buffer holds now (the trial store keeps theirs)."""
        return [
            row
            for row in rows
            if row[STATUS] == OK
            and row.get(TEST_PREDICTIONS) is not None
            and int(row["fold_id"]) in self.kept.get(str(row[COMBO_ID]), {})
        ]

    def _running_rank(self, combo_id: str) -> float:
        """Higher is better: the running mean of the primary metric, signed by its direction."""
        scores = [score for score in self.scores.get(combo_id, {}).values() if score is not None]
        if not scores:
            return -np.inf
        mean = float(np.mean(scores))
        return mean if self.params.higher_is_better else -mean

    def leaders(self, records: Iterable[Mapping[str, Any]]) -> list[str]:
        """The `keep` best fully evaluated combinations of the search's `records` (a record on
        every fold, none pruned, some fold ok), best first by mean over ok folds."""
        by_combo: dict[str, list[Mapping[str, Any]]] = {}
        for record in records:
            by_combo.setdefault(str(record[COMBO_ID]), []).append(record)
        n_folds = len(self.arrays.rows)
        means = {}
        for combo_id, combo in by_combo.items():
            if len({r["fold_id"] for r in combo}) < n_folds or any(
                r[STATUS] == PRUNED for r in combo
            ):
                continue
            scores = [primary_score(r, self.params.primary_metric) for r in combo]
            scores = [score for score in scores if score is not None]
            if scores:
                mean = float(np.mean(scores))
                means[combo_id] = mean if self.params.higher_is_better else -mean
        return sorted(means, key=lambda combo_id: (-means[combo_id], combo_id))[: self.keep]

    def missing(self, records: Iterable[Mapping[str, Any]], leaders: list[str]) -> list[str]:
        """Trial ids of the leaders' ok folds whose predictions the buffer lacks."""
        return [
            str(record["trial_id"])
            for record in records
            if record[COMBO_ID] in leaders
            and record[STATUS] == OK
            and int(record["fold_id"]) not in self.kept.get(record[COMBO_ID], {})
        ]

    def trial_ids(self, records: Iterable[Mapping[str, Any]], leaders: list[str]) -> list[str]:
        """Trial ids of the leaders' folds whose predictions the buffer holds."""
        return [
            str(record["trial_id"])
            for record in records
            if int(record["fold_id"]) in self.kept.get(record[COMBO_ID], {})
            and record[COMBO_ID] in leaders
        ]

    def frames(self, leaders: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(`tuning_predictions`, `tuning_learning_curves`) of the leaders' kept folds."""
        predictions, curves = [], []
        for combo_id in leaders:
            for fold_id, (predicted, curve, best) in sorted(self.kept.get(combo_id, {}).items()):
                test = self.arrays.rows[fold_id][1]
                predictions.append(
                    pd.DataFrame(
                        {
                            COMBO_ID: combo_id,
                            "fold_id": np.int32(fold_id),
                            "row": test.astype(np.int64),
                            "actual": self.arrays.y[test],
                            **_predicted(predicted, len(test)),
                        }
                    )
                )
                for metric, values in curve.items():
                    curves.append(
                        pd.DataFrame(
                            {
                                COMBO_ID: combo_id,
                                "fold_id": np.int32(fold_id),
                                "round": np.arange(1, len(values) + 1, dtype=np.int64),
                                "metric": metric,
                                "value": np.asarray(values, dtype=np.float64),
                                "best_iteration": np.int64(best),
                            }
                        )
                    )
        return _frame(predictions, PREDICTION_COLUMNS), _frame(curves, CURVE_COLUMNS)


def _predicted(predicted: np.ndarray, n_rows: int) -> dict[str, np.ndarray]:
    """`predicted` (P(class 1), or the value); for multiclass (K values per row, flat: K times
    the memory of the module doc's bound) the most probable class as `predicted` and class k's
    probability as `probability_<k>` beside it."""
    if len(predicted) == n_rows:
        return {"predicted": predicted}
    probabilities = predicted.reshape(n_rows, -1)
    return {
        "predicted": probabilities.argmax(axis=1).astype(np.float64),
        **{f"{PROBABILITY_PREFIX}{k}": probabilities[:, k] for k in range(probabilities.shape[1])},
    }


def _frame(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
