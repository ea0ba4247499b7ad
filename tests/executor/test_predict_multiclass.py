"""executor/predict.py for a multiclass model: the most probable label and a probability per
class, named by the encoding's classes."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from spark_lgbm_tuning.executor.encoding import InputEncoding, encoded_matrix
from spark_lgbm_tuning.executor.fold_data import bin_train_part
from spark_lgbm_tuning.executor.predict import Scorer

ENCODING = InputEncoding(
    target="species",
    features=("island", "size"),
    categories={"island": ("Biscoe", "Dream")},
    classes=("Adelie", "Chinstrap", "Gentoo"),
)


def _rows(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "island": rng.choice(["Biscoe", "Dream"], n),
            "size": rng.normal(size=n),
        }
    )


def _model(rows: pd.DataFrame) -> str:
    x = encoded_matrix(rows, ENCODING)
    y = np.digitize(rows["size"], [-0.5, 0.5]).astype(float)
    params = {"objective": "multiclass", "num_class": 3, "verbosity": -1, "min_data_in_leaf": 5}
    train = bin_train_part(x, y, params)
    train.set_feature_name(list(ENCODING.features))
    return lgb.train(params, train, num_boost_round=20).model_to_string()


def test_a_multiclass_model_adds_the_likeliest_label_and_each_class_probability():
    rows = _rows()
    text = _model(rows)
    scorer = Scorer(text, ENCODING, "multiclass", threshold=0.99)

    scored = scorer.score(rows)

    columns = ["probability_Adelie", "probability_Chinstrap", "probability_Gentoo"]
    assert scorer.added_columns() == ["prediction", *columns]
    assert scored.columns.tolist() == [*rows.columns, "prediction", *columns]
    expected = lgb.Booster(model_str=text).predict(encoded_matrix(rows, ENCODING))
    np.testing.assert_allclose(scored[columns].to_numpy(), expected)
    # The most probable class, whatever the binary threshold says.
    assert scored["prediction"].tolist() == [ENCODING.classes[k] for k in expected.argmax(axis=1)]
    assert set(scored["prediction"]) == set(ENCODING.classes)
    assert scored["id"].tolist() == rows["id"].tolist()


def test_batches_are_scored_like_the_whole():
    rows = _rows(90)
    scorer = Scorer(_model(_rows()), ENCODING, "multiclass")

    batches = list(scorer.score_batches(iter([rows.iloc[:40], rows.iloc[40:]])))

    pd.testing.assert_frame_equal(pd.concat(batches), scorer.score(rows))


def test_an_empty_batch_gets_the_columns_and_no_rows():
    scorer = Scorer(_model(_rows()), ENCODING, "multiclass")

    scored = scorer.score(_rows(0))

    assert scored.empty and scored.columns.tolist()[-4:] == scorer.added_columns()
