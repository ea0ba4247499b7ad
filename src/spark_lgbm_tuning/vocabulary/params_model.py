"""The one idiom for parameter models: subclass `ParamsModel`, constrain values with `Field`.

Kedro validates a node parameter typed as a pydantic model before any node runs. Ranges are
`Field(ge=..., le=...)` constraints; unknown keys (typos) fail with the allowed keys named, which
pydantic's own "Extra inputs are not permitted" leaves out.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class ParamsModel(BaseModel):
    """A `params:<name>` block (or a nested part of one): unknown keys fail, naming the allowed."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(cls.model_fields))
            if unknown:
                raise ValueError(
                    f"unknown key(s) {unknown}; the allowed keys are {sorted(cls.model_fields)}"
                )
        return data
