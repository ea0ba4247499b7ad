"""ParamsModel: the one idiom for parameter models (Field constraints, unknown keys named)."""

from __future__ import annotations

import pytest
from pydantic import ConfigDict, Field, ValidationError

from spark_lgbm_tuning.vocabulary.params_model import ParamsModel


class Inner(ParamsModel):
    size: int = Field(1, ge=1, le=10)


class Outer(ParamsModel):
    model_config = ConfigDict(frozen=True)  # merged with the base's extra="forbid"

    name: str = "x"
    inner: Inner = Inner()


def test_unknown_keys_fail_naming_the_allowed_ones():
    with pytest.raises(
        ValidationError,
        match=r"unknown key\(s\) \['nmae'\]; the allowed keys are \['inner', 'name'\]",
    ):
        Outer.model_validate({"nmae": "y"})
    with pytest.raises(
        ValidationError, match=r"(?s)inner\n.*unknown key\(s\) \['sise'\].*\['size'\]"
    ):
        Outer.model_validate({"inner": {"sise": 3}})


def test_ranges_are_field_constraints_and_subclass_config_merges():
    with pytest.raises(ValidationError, match=r"(?s)inner.size\n.*less than or equal to 10"):
        Outer.model_validate({"inner": {"size": 11}})
    outer = Outer.model_validate({"inner": {"size": 3}})
    assert outer.inner.size == 3
    assert Outer.model_config["extra"] == "forbid"
    with pytest.raises(ValidationError, match="frozen"):
        outer.name = "y"
