"""Apply a refit model to rows: the prediction and each class's probability, other columns kept.

Runs inside `mapInPandas` on the executors (pipelines/scoring) and on plain pandas alike: the
model's text and its encoding arrive once per task in the function's closure, the booster is
built once per task. No Kedro import.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from spark_lgbm_tuning.executor.encoding import InputEncoding, encoded_matrix

PREDICTION = "prediction"
PROBABILITY_PREFIX = "probability_"


@dataclass(frozen=True)
class Scorer:
    """What scoring needs on an executor: the model text, its encoding, the task, the cut-off."""

    model_text: str
    encoding: InputEncoding
    task: str
    threshold: float = 0.5
    # LightGBM's threads per prediction: spark.task.cpus on an executor (every core of the host
    # at once would oversubscribe it under parallel tasks); 0 is LightGBM's default, all cores.
    num_threads: int = 0

    def added_columns(self) -> list[str]:
        """The columns scoring appends: the prediction, then each class's probability."""
        if self.task == "regression":
            return [PREDICTION]
        return [PREDICTION, *(PROBABILITY_PREFIX + name for name in self.encoding.label_names())]

    def score(self, frame: pd.DataFrame, booster: lgb.Booster | None = None) -> pd.DataFrame:
        """`frame` with the added columns (predicted label, or value for regression): binary at
        `threshold` on P(class 1), multiclass the most probable class (argmax)."""
        booster = booster or lgb.Booster(model_str=self.model_text)
        raw = booster.predict(encoded_matrix(frame, self.encoding), num_threads=self.num_threads)
        out = frame.copy()
        if self.task == "regression":
            out[PREDICTION] = raw.astype(np.float64)
            return out
        if self.task == "multiclass":
            # rows x classes (LightGBM returns a flat empty array for an empty batch)
            probabilities = np.asarray(raw, dtype=np.float64).reshape(
                len(frame), len(self.encoding.label_names())
            )
            labels = self.encoding.decode_labels(probabilities.argmax(axis=1))
            out[PREDICTION] = labels.astype(str)
            for name, column in zip(self.added_columns()[1:], probabilities.T, strict=True):
                out[name] = column
            return out
        positive = raw.astype(np.float64)
        labels = self.encoding.decode_labels((positive >= self.threshold).astype(np.int64))
        # Mapped classes come back as the user's labels (text); 0/1 targets as numbers.
        out[PREDICTION] = (
            labels.astype(np.float64) if self.encoding.classes is None else labels.astype(str)
        )
        negative_name, positive_name = self.added_columns()[1:]
        out[negative_name] = 1.0 - positive
        out[positive_name] = positive
        return out

    def score_batches(self, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """`mapInPandas`'s function: one booster per task, every batch scored with it."""
        booster = lgb.Booster(model_str=self.model_text)
        for batch in batches:
            yield self.score(batch, booster)
