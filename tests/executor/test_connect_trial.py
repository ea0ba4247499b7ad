"""The executor side of a Spark Connect search: task groups in as pickled cells, rows out in the
result schema, and back on the driver as trial.run_group returned them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from spark_lgbm_tuning.executor.connect_trial import (
    RESULT_SCHEMA,
    SPECS_COLUMN,
    decode_row,
    encode_group,
    encode_row,
    run_pandas_groups,
)
from spark_lgbm_tuning.executor.fold_data import fold_from_arrays
from spark_lgbm_tuning.executor.trial import run_trial
from spark_lgbm_tuning.executor.trial_spec import (
    ID_FIELDS,
    LEARNING_CURVE,
    RESULT_FIELDS,
    TEST_PREDICTIONS,
    TrialSpec,
)

PARAMS = {"objective": "binary", "metric": "auc", "verbosity": -1, "num_threads": 1}


def _spec(**changes) -> TrialSpec:
    fields = {
        "trial_id": "t1",
        "combo_id": "c1",
        "fold_id": 0,
        "task": "classification",
        "params": PARAMS,
        "grid_values": {},
        "num_boost_round": 5,
        "early_stopping_rounds": None,
        "train_file": "missing_train.bin",
        "test_x_file": "missing_x.npy",
        "test_y_file": "missing_y.npy",
    }
    return TrialSpec(**(fields | changes))


def test_the_schema_names_every_result_field_once():
    names = [column.split(" ")[0] for column in RESULT_SCHEMA.split(", ")]
    assert names == [*ID_FIELDS, *RESULT_FIELDS, TEST_PREDICTIONS, LEARNING_CURVE]


def test_a_group_whose_files_are_missing_comes_back_as_failed_rows():
    batch = pd.DataFrame({SPECS_COLUMN: [encode_group([_spec(), _spec(trial_id="t2")])]})
    [frame] = list(run_pandas_groups(iter([batch])))
    assert list(frame.columns) == [*ID_FIELDS, *RESULT_FIELDS, TEST_PREDICTIONS, LEARNING_CURVE]
    assert frame["trial_id"].tolist() == ["t1", "t2"]
    assert (frame["status"] == "failed").all()


def test_a_rows_predictions_and_learning_curve_survive_the_round_trip():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 3)), rng.integers(0, 2, 200).astype(float)
    fold = fold_from_arrays(x[:150], y[:150], x[150:], y[150:], PARAMS)
    row = run_trial(_spec(early_stopping_rounds=2), fold)
    assert row["status"] == "ok" and row[LEARNING_CURVE]
    back = decode_row(encode_row(row))
    assert isinstance(encode_row(row)[TEST_PREDICTIONS], list)
    np.testing.assert_array_equal(back[TEST_PREDICTIONS], row[TEST_PREDICTIONS])
    assert back[LEARNING_CURVE] == row[LEARNING_CURVE]
