"""scoring/nodes.py: a table scored on the executors, as the model predicts on the driver; a table
that does not fit the model is refused in one line naming the columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spark_lgbm_tuning.executor.encoding import encoded_matrix
from spark_lgbm_tuning.executor.predict import Scorer
from spark_lgbm_tuning.pipelines.scoring.nodes import score_table
from spark_lgbm_tuning.vocabulary.errors import InputDataError
from tests.executor.test_predict import ENCODING, _rows, model_text

PAYLOAD = ENCODING.to_dict()


@pytest.fixture(scope="module")
def text() -> str:
    return model_text()


@pytest.mark.parametrize("as_spark", [False, True])
def test_pandas_and_spark_tables_are_scored_as_on_the_driver(spark, text, as_spark):
    rows = _rows(50)
    table = spark.createDataFrame(rows) if as_spark else rows

    scored = score_table(table, text, PAYLOAD, "classification", 0.5).toPandas()

    expected = Scorer(text, ENCODING, "classification").score(rows)
    scored = scored.sort_values("id").reset_index(drop=True)
    assert list(scored.columns) == list(expected.columns)
    np.testing.assert_allclose(scored["probability_yes"], expected["probability_yes"], rtol=1e-6)
    assert scored["prediction"].tolist() == expected["prediction"].tolist()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            _rows(5).drop(columns="size"),
            r"scoring_table lacks the model's feature column\(s\) \['size'\]",
        ),
        (_rows(5).assign(size="big"), r"feature column\(s\) \{'size': 'string'\} are not numeric"),
        (_rows(5).assign(prediction=1), r"already has column\(s\) \['prediction'\]"),
    ],
)
def test_a_table_that_does_not_fit_is_refused_in_one_line(spark, text, rows, message):
    with pytest.raises(InputDataError, match=message) as error:
        score_table(spark.createDataFrame(rows), text, PAYLOAD, "classification", 0.5)
    assert "\n" not in str(error.value)


def test_a_model_refit_on_other_features_is_refused(spark, text):
    other = {**PAYLOAD, "features": ["colour", "weight"]}
    with pytest.raises(InputDataError, match="The refit model's features"):
        score_table(_rows(5), text, other, "classification", 0.5)


def test_unseen_categories_are_scored_as_missing(spark, text):
    rows = _rows(4).assign(colour=["c", "a", None, "b"])
    scored = score_table(rows, text, PAYLOAD, "classification", 0.5).toPandas()
    x = encoded_matrix(rows, ENCODING)
    assert np.isnan(x[[0, 2], 0]).all()
    assert scored["probability_yes"].notna().all()
    assert pd.Series(scored["probability_yes"]).between(0, 1).all()
