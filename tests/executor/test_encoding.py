"""executor/encoding.py: the encoding round-trips as JSON and encodes new rows as training did."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from spark_lgbm_tuning.executor.encoding import (
    EncodingError,
    InputEncoding,
    category_codes,
    encoded_matrix,
)

ENCODING = InputEncoding(
    target="sex",
    features=("species", "mass", "shop"),
    categories={"species": ("Adelie", "Gentoo"), "shop": (3, 7)},
    classes=("male", "female"),
)


def test_the_encoding_survives_json():
    payload = json.loads(json.dumps(ENCODING.to_dict()))

    assert InputEncoding.from_dict(payload) == ENCODING
    assert ENCODING.categorical == ["species", "shop"]
    assert ENCODING.categorical_indices() == [0, 2]


def test_new_rows_get_training_codes_and_unseen_categories_become_missing():
    rows = pd.DataFrame(
        {
            "shop": ["7", 3, 9, None],  # a Spark table may give "7" where training had 7
            "species": ["Gentoo", "Adelie", "Emperor", None],
            "mass": [4000, 3500.5, None, 1],
            "id": [1, 2, 3, 4],
        }
    )

    matrix = encoded_matrix(rows, ENCODING)

    np.testing.assert_array_equal(matrix[:, 0], [1, 0, np.nan, np.nan])
    np.testing.assert_array_equal(matrix[:, 1], [4000, 3500.5, np.nan, 1])
    np.testing.assert_array_equal(matrix[:, 2], [1, 0, np.nan, np.nan])


def test_missing_or_non_numeric_feature_columns_are_named():
    with pytest.raises(EncodingError, match=r"lacks the model's feature column\(s\) \['shop'\]"):
        encoded_matrix(pd.DataFrame({"species": ["Adelie"], "mass": [1.0]}), ENCODING)
    with pytest.raises(EncodingError, match="Feature column 'mass' holds non-numeric values"):
        encoded_matrix(
            pd.DataFrame({"species": ["Adelie"], "mass": ["heavy"], "shop": [3]}), ENCODING
        )


def test_labels_decode_to_the_users_classes():
    assert ENCODING.decode_labels(np.array([1, 0])).tolist() == ["female", "male"]
    plain = InputEncoding(target="y", features=("x",))
    assert plain.decode_labels(np.array([1, 0])).tolist() == [1, 0]
    assert plain.label_names() == ["0", "1"]


def test_codes_match_by_value_then_by_text_and_a_category_dtype_is_recoded():
    known = [3, 7, 11]
    assert category_codes(pd.Series([7, "11", None, 5, "3"], dtype=object), known).tolist() == [
        1,
        2,
        -1,
        -1,
        0,
    ]
    recoded = pd.Series(pd.Categorical(["b", "a", "z"], categories=["z", "b", "a"]))
    assert category_codes(recoded, ["a", "b"]).tolist() == [1, 0, -1]
