"""The one column-name setting: what it names is what every pipeline reads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from spark_lgbm_tuning.vocabulary.columns import (
    ColumnParams,
    feature_columns,
    select_features,
    target_values,
)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"when": [1, 2], "x_b": [0.5, 1.5], "label": [0, 1], "x_a": [True, False], "other": [1, 2]}
    )


def test_the_configured_names_pick_the_features_in_data_order():
    columns = ColumnParams(target="label", feature_prefix="x_", time="when")

    assert feature_columns(_frame(), columns) == ["x_b", "x_a"]
    assert target_values(_frame(), columns).tolist() == [0.0, 1.0]
    assert columns.feature_name(3) == "x_3"


def test_the_shipped_setting_is_the_default(project_root):
    raw = yaml.safe_load((project_root / "conf/base/parameters.yml").read_text())["columns"]
    assert ColumnParams.model_validate(raw) == ColumnParams()


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (ColumnParams(target="y", feature_prefix="x_"), "The data has no target column 'y'"),
        (ColumnParams(target="label", feature_prefix="z_"), r"The data has no z_\* columns"),
        (ColumnParams(target="label", feature_prefix="o"), r"Feature column\(s\) \{'other'"),
    ],
)
def test_missing_or_non_numeric_columns_are_named(columns, message):
    frame = _frame()
    if columns.feature_prefix == "o":
        frame["other"] = ["a", "b"]
    with pytest.raises(ValueError, match=message):
        feature_columns(frame, columns)


def test_a_non_finite_target_is_refused_with_its_rows():
    frame = _frame().assign(label=[np.inf, 1.0])
    with pytest.raises(ValueError, match=r"1 NaN or infinite value\(s\) \(first rows \[0\]\)"):
        target_values(frame, ColumnParams(target="label", feature_prefix="x_"))


def test_unknown_or_empty_settings_are_refused():
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        ColumnParams.model_validate({"label": "y"})
    with pytest.raises(ValidationError, match="at least 1 character"):
        ColumnParams(target="")


def test_features_as_a_list_or_every_other_column_minus_exclude():
    listed = ColumnParams(target="label", features=["other", "x_b"], time="when")
    rest = ColumnParams(target="label", feature_prefix=None, time="when", exclude=["other"])

    assert select_features(_frame(), listed) == ["other", "x_b"]
    assert select_features(_frame(), rest) == ["x_b", "x_a"]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (
            ColumnParams(target="label", features=["x_b", "nope"]),
            r"columns.features names \['nope'\], which the data lacks",
        ),
        (
            ColumnParams(target="label", feature_prefix=None, time="when", exclude=["x_a", "x_b"]),
            r"exclude fewer columns",
        ),
    ],
)
def test_a_feature_setting_that_finds_nothing_names_the_fix(columns, message):
    frame = _frame().drop(columns="other")
    with pytest.raises(ValueError, match=message):
        select_features(frame, columns)


def test_roles_must_name_different_columns():
    with pytest.raises(ValidationError, match="must name different columns"):
        ColumnParams(target="y", time="y")
    with pytest.raises(ValidationError, match=r"columns.features lists \['t'\]"):
        ColumnParams(target="y", time="t", features=["a", "t"])
