"""preparation/table.py: any table becomes the model input, or is refused in one line."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from spark_lgbm_tuning.executor.encoding import InputEncoding
from spark_lgbm_tuning.pipelines.preparation.table import needed_columns, prepare_table
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from spark_lgbm_tuning.vocabulary.errors import InputDataError

COLUMNS = ColumnParams(
    target="label", feature_prefix=None, time=None, exclude=["id"], positive_class="yes"
)


def _table(n: int = 8) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": range(n),
            "colour": (["red", "blue", None, "green"] * n)[:n],
            "shop": ([3, 7] * n)[:n],
            "size": np.linspace(0.0, 1.0, n),
            "flag": ([True, False] * n)[:n],
            "label": (["yes", "no", "no", "yes"] * n)[:n],
        }
    )


def test_strings_become_categories_and_labels_classes():
    model_input, payload = prepare_table(_table(), COLUMNS, "classification")
    encoding = InputEncoding.from_dict(payload)

    assert list(model_input.columns) == ["colour", "shop", "size", "flag", "label"]
    assert isinstance(model_input["colour"].dtype, pd.CategoricalDtype)
    assert list(model_input["colour"].cat.categories) == ["blue", "green", "red"]
    assert model_input["colour"].isna().sum() == 2  # a missing category stays missing
    assert model_input["shop"].dtype == np.int64  # an integer column stays a number...
    assert model_input["label"].tolist() == [1.0, 0.0, 0.0, 1.0] * 2
    assert encoding.classes == ("no", "yes")
    assert encoding.features == ("colour", "shop", "size", "flag")
    assert dict(encoding.categories) == {"colour": ("blue", "green", "red")}


def test_an_integer_column_named_categorical_is_one():
    columns = COLUMNS.model_copy(update={"categorical": ["shop"]})
    model_input, payload = prepare_table(_table(), columns, "classification")

    assert list(model_input["shop"].cat.categories) == [3, 7]
    assert payload["categories"]["shop"] == [3, 7]


def test_boolean_and_01_labels_need_no_positive_class():
    columns = COLUMNS.model_copy(update={"positive_class": None})
    for labels in ([True, False] * 4, [0, 1] * 4):
        model_input, payload = prepare_table(
            _table().assign(label=labels), columns, "classification"
        )
        assert sorted(model_input["label"].unique()) == [0.0, 1.0]
        assert payload["classes"] is None


def test_missing_labels_are_refused_or_dropped_and_counted(caplog):
    table = _table().assign(label=["yes", None, "no", "yes", None, "no", "yes", "no"])
    with pytest.raises(InputDataError, match=r"missing in 2 row\(s\) \(first rows \[1, 4\]\)"):
        prepare_table(table, COLUMNS, "classification")

    caplog.set_level(logging.WARNING)
    dropping = COLUMNS.model_copy(update={"missing_target": "drop"})
    model_input, _ = prepare_table(table, dropping, "classification")

    assert len(model_input) == 6 and model_input.index.tolist() == list(range(6))
    assert "Dropped 2 of 8 rows whose target 'label' is missing" in caplog.text


def test_rows_are_ordered_by_the_time_column():
    table = _table(4).assign(when=["2024-01-03", "2024-01-01", "2024-01-04", "2024-01-02"])
    columns = COLUMNS.model_copy(update={"time": "when"})

    model_input, _ = prepare_table(table, columns, "classification")

    assert model_input["when"].is_monotonic_increasing
    assert model_input["size"].tolist() == pytest.approx([1 / 3, 1.0, 0.0, 2 / 3])


def test_regression_keeps_numbers():
    columns = COLUMNS.model_copy(update={"positive_class": None})
    model_input, payload = prepare_table(
        _table().assign(label=np.arange(8.0)), columns, "regression"
    )
    assert model_input["label"].tolist() == list(np.arange(8.0))
    assert payload["classes"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"label": ["yes"] * 8}, r"has one class only \('yes'\)"),
        ({"label": list("abcabcab")}, r"has 3 classes"),
        ({"id": None, "label": ["a", "b"] * 4}, r"name the one that is class 1"),
    ],
)
def test_bad_labels_are_one_line_naming_the_column(change, message):
    columns = COLUMNS
    table = _table()
    for name, values in change.items():
        if name == "id":
            columns = columns.model_copy(update={"positive_class": None})
        else:
            table = table.assign(**{name: values})
    with pytest.raises(InputDataError, match=message) as error:
        prepare_table(table, columns, "classification")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"target": "nope"}, r"no target column 'nope'"),
        ({"features": ["size", "weight"]}, r"columns.features names \['weight'\]"),
        ({"categorical": ["size"]}, r"'size' is named in columns.categorical but holds fractional"),
        ({"categorical": ["id"]}, r"columns.categorical names \['id'\], which are not among"),
        (
            {"max_categories": 2},
            r"'colour' has 3 distinct values, more than columns.max_categories",
        ),
        ({"positive_class": "maybe"}, r"positive_class 'maybe' is not among the target's labels"),
        ({"time": "when"}, r"no column 'when'"),
        ({"group": "store"}, r"no column 'store'"),
    ],
)
def test_bad_column_settings_are_one_line_naming_the_column(update, message):
    with pytest.raises(InputDataError, match=message) as error:
        prepare_table(_table(), COLUMNS.model_copy(update=update), "classification")
    assert "\n" not in str(error.value)


def test_positive_class_under_regression_and_non_numeric_regression_targets_are_refused():
    with pytest.raises(InputDataError, match="positive_class is set but tuning.task is regression"):
        prepare_table(_table(), COLUMNS, "regression")
    columns = COLUMNS.model_copy(update={"positive_class": None})
    with pytest.raises(InputDataError, match="holds non-numeric values such as 'yes'"):
        prepare_table(_table(), columns, "regression")


def test_needed_columns_are_what_a_spark_table_is_narrowed_to():
    columns = COLUMNS.model_copy(update={"time": "when"})
    available = ["when", *_table().columns]
    assert needed_columns(available, columns) == ["when", "colour", "shop", "size", "flag", "label"]
