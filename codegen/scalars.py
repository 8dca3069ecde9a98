"""Custom scalar (de)serialisers, copied into the generated package by ariadne-codegen.

Decimal goes out as a bare JSON number (the VIESUS docs write strengths as ``0.5``), not as the
string pydantic would make of it. Values whose shortest float repr reads back as the same
Decimal (every realistic strength) are exact; others are rejected rather than silently rounded.
Incoming numbers become Decimal through their text, so ``0.1`` stays ``Decimal('0.1')``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def serialize_decimal(value: Decimal) -> int | float:
    """Decimal -> JSON number, refusing values a float would change."""
    if not value.is_finite():
        raise ValueError(f"Decimal value {value} is not a finite number")
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    if Decimal(repr(as_float)) != value:
        raise ValueError(
            f"Decimal value {value} has more precision than a JSON number keeps; round it"
        )
    return as_float


def parse_decimal(value: Any) -> Decimal:
    """JSON number or string -> Decimal, through its text (no binary float noise)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("a boolean is not a Decimal")
    if isinstance(value, (int, float, str)):
        return Decimal(str(value))
    raise ValueError(f"cannot read {type(value).__name__} as a Decimal")
