"""JSON value coercions of Synthea's module loader (module-format.md §1.1).

Module JSON is parsed with `parse_float=JsonFloat`, so a number keeps the text it was written
with: a code written as the number `1.50` becomes the string "1.50", as in Synthea.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator


class JsonFloat(float):
    """A float that remembers its literal JSON text."""

    __slots__ = ("text",)

    def __new__(cls, text: str) -> JsonFloat:
        obj = super().__new__(cls, text)
        obj.text = text
        return obj


def to_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, JsonFloat):
        return value.text
    if isinstance(value, int | float):
        return str(value)
    return value


def to_int(value: Any) -> Any:
    """Non-integral numbers truncate toward zero (Synthea binds 0.5 to an int field as 0)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return value
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return value
    return value


def to_plain(value: Any) -> Any:
    """'Any value' members: numbers become plain floats, containers are kept."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


Text = Annotated[str, BeforeValidator(to_text)]
Int = Annotated[int, BeforeValidator(to_int)]
AnyValue = Annotated[Any, BeforeValidator(to_plain)]
