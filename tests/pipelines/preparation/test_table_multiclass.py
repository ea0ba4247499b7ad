"""prepare_table with tuning.task multiclass: labels sorted and numbered 0..K-1, recorded in
the encoding; positive_class refused; the binary task still refuses more than two labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spark_lgbm_tuning.executor.encoding import InputEncoding
from spark_lgbm_tuning.pipelines.preparation.table import prepare_table
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from spark_lgbm_tuning.vocabulary.errors import InputDataError

COLUMNS = ColumnParams(target="label", feature_prefix=None, time=None)


def _table(labels) -> pd.DataFrame:
    return pd.DataFrame({"size": np.arange(len(labels), dtype=float), "label": labels})


@pytest.mark.parametrize(
    ("labels", "classes"),
    [
        (["gentoo", "adelie", "chinstrap", "adelie"], ["adelie", "chinstrap", "gentoo"]),
        ([7, 3, 5, 3], [3, 5, 7]),
        ([2, 0, 1, 0], [0, 1, 2]),
        (["b", "a", "a"], ["a", "b"]),  # two labels may be multiclass too
    ],
)
def test_labels_are_numbered_in_sorted_order(labels, classes):
    prepared, payload = prepare_table(_table(labels), COLUMNS, "multiclass")

    encoding = InputEncoding.from_dict(payload)
    assert list(encoding.classes) == classes
    numbers = prepared["label"].to_numpy()
    assert numbers.dtype == np.float64
    assert [classes[int(number)] for number in numbers] == labels
    np.testing.assert_array_equal(encoding.decode_labels(numbers.astype(int)), labels)


def test_multiclass_refuses_a_positive_class():
    columns = COLUMNS.model_copy(update={"positive_class": "adelie"})

    with pytest.raises(InputDataError, match="no positive class: drop positive_class"):
        prepare_table(_table(["adelie", "gentoo", "chinstrap"]), columns, "multiclass")


def test_one_label_is_refused_and_binary_points_to_multiclass():
    with pytest.raises(InputDataError, match="has one class only"):
        prepare_table(_table(["a", "a"]), COLUMNS, "multiclass")
    with pytest.raises(InputDataError, match=r"has 3 classes .* set tuning.task: multiclass"):
        prepare_table(_table(["a", "b", "c"]), COLUMNS, "classification")


def test_missing_labels_are_dropped_before_numbering():
    columns = COLUMNS.model_copy(update={"missing_target": "drop"})

    prepared, payload = prepare_table(_table(["b", None, "c", "a"]), columns, "multiclass")

    assert payload["classes"] == ["a", "b", "c"]
    assert prepared["label"].tolist() == [1.0, 2.0, 0.0]
