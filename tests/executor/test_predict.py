"""executor/predict.py: the refit model's prediction and class probabilities, other columns kept."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from spark_lgbm_tuning.executor.encoding import InputEncoding, encoded_matrix
from spark_lgbm_tuning.executor.fold_data import bin_train_part
from spark_lgbm_tuning.executor.predict import Scorer

ENCODING = InputEncoding(
    target="y",
    features=("colour", "size"),
    categories={"colour": ("a", "b")},
    classes=("no", "yes"),
)


def _rows(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"id": np.arange(n), "colour": rng.choice(["a", "b"], n), "size": rng.normal(size=n)}
    )


def model_text(task: str = "classification") -> str:
    rows = _rows()
    x = encoded_matrix(rows, ENCODING)
    y = ((rows["colour"] == "b") ^ (rows["size"] > 1)).to_numpy(dtype=float)
    objective = "binary" if task == "classification" else "regression"
    params = {"objective": objective, "verbosity": -1, "categorical_feature": "0"}
    train = bin_train_part(x, y, params)
    train.set_feature_name(list(ENCODING.features))
    return lgb.train(params, train, num_boost_round=20).model_to_string()


def test_a_classifier_adds_the_label_and_each_class_probability():
    text = model_text()
    rows = _rows(20)

    scored = Scorer(text, ENCODING, "classification", threshold=0.5).score(rows)

    positive = lgb.Booster(model_str=text).predict(encoded_matrix(rows, ENCODING))
    assert list(scored.columns) == [
        "id",
        "colour",
        "size",
        "prediction",
        "probability_no",
        "probability_yes",
    ]
    np.testing.assert_allclose(scored["probability_yes"], positive)
    np.testing.assert_allclose(scored["probability_no"], 1 - positive)
    assert scored["prediction"].tolist() == np.where(positive >= 0.5, "yes", "no").tolist()
    assert scored["id"].tolist() == list(range(20))


def test_regression_adds_the_value_and_batches_share_one_booster():
    text = model_text("regression")
    scorer = Scorer(text, ENCODING, "regression")
    rows = _rows(30)

    batches = list(scorer.score_batches(iter([rows.iloc[:10], rows.iloc[10:]])))

    assert scorer.added_columns() == ["prediction"]
    together = pd.concat(batches)
    expected = lgb.Booster(model_str=text).predict(encoded_matrix(rows, ENCODING))
    np.testing.assert_allclose(together["prediction"], expected)
