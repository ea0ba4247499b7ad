"""vocabulary/features.py: the model input's features as the numbers LightGBM sees."""

from __future__ import annotations

import numpy as np
import pandas as pd

from spark_lgbm_tuning.vocabulary.features import categorical_features, feature_matrix


def test_a_category_is_its_code_and_a_missing_one_nan():
    frame = pd.DataFrame(
        {
            "colour": pd.Categorical(["red", None, "blue"], categories=["blue", "red"]),
            "size": [1.5, np.nan, 3.0],
        }
    )

    matrix = feature_matrix(frame, ["colour", "size"])

    assert matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[:, 0], [1.0, np.nan, 0.0])
    np.testing.assert_array_equal(matrix[:, 1], [1.5, np.nan, 3.0])
    assert categorical_features(frame, ["colour", "size"]) == ["colour"]
