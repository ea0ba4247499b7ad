"""How a user's columns become the model's numbers, and back: stored with the model.

Preparation builds an `InputEncoding` from the training table; every trial, the final refit, the
report and scoring then see the same numbers. A categorical feature's code is its position in
`categories[column]`; a category that training never saw becomes missing (NaN), which LightGBM
sends down the side of each split that it learnt for missing values. A class label's number is
its position in `classes`. No Kedro, no pyspark: executors import it to score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from spark_lgbm_tuning.vocabulary.errors import InputDataError
from spark_lgbm_tuning.vocabulary.features import feature_matrix

CATEGORY_UNSEEN = (
    "a category unseen in training is passed to LightGBM as missing (NaN): it follows the "
    "missing-value side of each split"
)


class EncodingError(InputDataError):
    """A table does not fit the model's encoding; the message names the columns and the fix."""


@dataclass(frozen=True)
class InputEncoding:
    """The features in model order, each categorical feature's categories, the label classes.

    `classes` is None for a numeric target used as is (regression, or 0/1 labels); for mapped
    labels class i is `classes[i]` (binary: class 1 is the positive class).
    """

    target: str
    features: tuple[str, ...]
    categories: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    classes: tuple[Any, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (numpy scalars as Python ones)."""
        return {
            "target": self.target,
            "features": list(self.features),
            "categories": {
                name: [_plain(value) for value in values]
                for name, values in self.categories.items()
            },
            "classes": None if self.classes is None else [_plain(c) for c in self.classes],
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> InputEncoding:
        classes = payload.get("classes")
        return cls(
            target=str(payload["target"]),
            features=tuple(payload["features"]),
            categories={
                str(name): tuple(values)
                for name, values in (payload.get("categories") or {}).items()
            },
            classes=None if classes is None else tuple(classes),
        )

    @property
    def categorical(self) -> list[str]:
        """The categorical features, in model order."""
        return [name for name in self.features if name in self.categories]

    def categorical_indices(self) -> list[int]:
        """Their positions among the features: LightGBM's `categorical_feature`."""
        return [index for index, name in enumerate(self.features) if name in self.categories]

    def check_columns(self, columns: Sequence[str], what: str = "The table") -> None:
        """Fail in one line naming every feature the table lacks."""
        missing = [name for name in self.features if name not in set(columns)]
        if missing:
            raise EncodingError(
                f"{what} lacks the model's feature column(s) {missing} (it has "
                f"{list(columns)[:12]}): add them, or score a table with the training columns"
            )

    def categorical_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The features in model order, each categorical one as a category with the training
        categories (unseen values become missing), the others as float."""
        self.check_columns(list(frame.columns))
        out = {}
        for name in self.features:
            column = frame[name]
            if name in self.categories:
                known = list(self.categories[name])
                out[name] = pd.Categorical.from_codes(category_codes(column, known), known)
            else:
                try:
                    out[name] = pd.to_numeric(column, errors="raise").astype(np.float64)
                except (TypeError, ValueError) as error:
                    raise EncodingError(
                        f"Feature column {name!r} holds non-numeric values ({column.dtype}) "
                        "where training had numbers: fix its values or its type"
                    ) from error
        return pd.DataFrame(out, index=frame.index)

    def label_names(self) -> list[str]:
        """Each class's label as a string (for column names and the report)."""
        if self.classes is None:
            return ["0", "1"]
        return [str(value) for value in self.classes]

    def decode_labels(self, codes: np.ndarray) -> np.ndarray:
        """Class numbers back to the user's labels (numbers as they are without classes)."""
        if self.classes is None:
            return codes
        return np.asarray(self.classes, dtype=object)[np.asarray(codes, dtype=np.int64)]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def category_codes(column: pd.Series, known: list[Any]) -> np.ndarray:
    """Each value's position in training's categories; -1 for missing or unseen (vectorised).

    A value matches a category by equality or, failing that, by its text: a CSV reads the
    integer category 3 as 3, a Spark table may give "3"; both mean one category.
    """
    codes = pd.Categorical(column, categories=known).codes.astype(np.int64)
    unmatched = (codes < 0) & column.notna().to_numpy()
    texts = [str(category) for category in known]
    if unmatched.any() and len(set(texts)) == len(texts):
        codes[unmatched] = pd.Categorical(column[unmatched].astype(str), categories=texts).codes
    return codes


def encoded_matrix(frame: pd.DataFrame, encoding: InputEncoding) -> np.ndarray:
    """The features as LightGBM's float32 matrix: categories as codes, missing as NaN."""
    return feature_matrix(encoding.categorical_frame(frame), list(encoding.features))
