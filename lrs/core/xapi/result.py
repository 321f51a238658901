"""The Result (Data 2.4.5) and its Score (Data 2.4.5.1)."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import AfterValidator, StrictBool, StrictStr, field_validator, model_validator

from lrs.core.xapi.common import Duration, Extensions, XAPIModel, absent, rule_error


def _finite(value: float) -> float:
    # Data 2.2.s4.b3: numbers are JSON numbers (IEEE 754); NaN and infinities are not JSON.
    if not math.isfinite(value):
        raise rule_error("must be a finite number")
    return value


# Strict float: JSON integers and decimals, never strings or booleans.
Number = Annotated[float, AfterValidator(_finite)]


class Score(XAPIModel):
    """The score of a graded Activity."""

    scaled: Number = absent()
    raw: Number = absent()
    min: Number = absent()
    max: Number = absent()

    # Data 2.4.5.1.s2: "scaled" is a decimal number between -1 and 1, inclusive.
    @field_validator("scaled")
    @classmethod
    def _scaled_range(cls, value: float | None) -> float | None:
        if value is not None and not -1 <= value <= 1:
            raise rule_error("must be between -1 and 1 inclusive")
        return value

    # Data 2.4.5.1.s2: "min" is less than "max"; "raw" is between min and max (when present), inclusive.
    @model_validator(mode="after")
    def _raw_between_min_and_max(self) -> Score:
        low, high, raw = self.min, self.max, self.raw
        if low is not None and high is not None and not low < high:
            raise rule_error(f"must be greater than min ({high:g} is not > {low:g})", ("max",), show_value=False)
        if raw is not None and low is not None and raw < low:
            raise rule_error(f"must not be less than min ({raw:g} < {low:g})", ("raw",), show_value=False)
        if raw is not None and high is not None and raw > high:
            raise rule_error(f"must not be greater than max ({raw:g} > {high:g})", ("raw",), show_value=False)
        return self


class Result(XAPIModel):
    """A measured outcome of the Statement."""

    score: Score = absent()
    # Data 2.2.s4.b1.b3: booleans are JSON true/false, never strings such as "true".
    success: StrictBool = absent()
    completion: StrictBool = absent()
    response: StrictStr = absent()
    duration: Duration = absent()
    extensions: Extensions = absent()
