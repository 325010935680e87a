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


def describe_number(value: float | int) -> str:
    """A number as a message shows it: its JSON text, or its size when it is huge."""
    if isinstance(value, JsonFloat):
        return value.text
    if isinstance(value, int) and abs(value) >= 10**15:
        return f"of {len(str(abs(value)))} digits"
    return f"{value:g}" if isinstance(value, float) else str(value)


def to_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, JsonFloat):
        return value.text
    if isinstance(value, int | float):
        return str(value)
    return value


# Whole numbers past Java's long (what Synthea reads them into) are refused, not wrapped.
MAX_INT = 2**63 - 1


def to_int(value: Any) -> Any:
    """Non-integral numbers truncate toward zero (Synthea binds 0.5 to an int field as 0)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return value
        value = int(value)
    elif isinstance(value, str):
        try:
            value = int(float(value))
        except (ValueError, OverflowError):
            return value
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise ValueError(f"whole number {describe_number(value)} is out of range (at most {MAX_INT})")
    return value


def to_plain(value: Any) -> Any:
    """'Any value' members: numbers become plain floats, containers are kept."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"number {describe_number(value)} is out of range") from None
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


Text = Annotated[str, BeforeValidator(to_text)]
Int = Annotated[int, BeforeValidator(to_int)]
AnyValue = Annotated[Any, BeforeValidator(to_plain)]
