"""The custom scalars of the SDL: Decimal, DateTime, JSON and the opaque preset scalar.

Decimal parses to ``decimal.Decimal`` through the value's text (``0.1`` stays exact) and is
written as a JSON number, as the docs write strengths. DateTime is ISO-8601 in UTC with
milliseconds and a ``Z`` (the docs' webhook example: ``2025-05-15T00:00:12.000Z``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ariadne import ScalarType
from graphql import (
    EnumValueNode,
    FloatValueNode,
    IntValueNode,
    StringValueNode,
    ValueNode,
    value_from_ast_untyped,
)

decimal_scalar = ScalarType("Decimal")
datetime_scalar = ScalarType("DateTime")
json_scalar = ScalarType("JSON")
preset_scalar = ScalarType("EnhancedImageParametersPreset")


def format_datetime(value: datetime) -> str:
    """ISO-8601, UTC, milliseconds, ``Z`` suffix."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO-8601 string")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("DateTime needs a time zone (use Z for UTC)")
    return parsed


@datetime_scalar.serializer
def _serialize_datetime(value: Any) -> str:
    if isinstance(value, datetime):
        return format_datetime(value)
    return format_datetime(parse_datetime(value))


@datetime_scalar.value_parser
def _parse_datetime_value(value: Any) -> datetime:
    return parse_datetime(value)


@datetime_scalar.literal_parser
def _parse_datetime_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> datetime:
    if not isinstance(node, StringValueNode):
        raise ValueError("DateTime must be a string")
    return parse_datetime(node.value)


def to_decimal(value: Any) -> Decimal:
    """JSON number (or numeric string) -> Decimal via its text; booleans are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("Decimal must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError("Decimal must be a number") from exc
    if not number.is_finite():
        raise ValueError("Decimal must be finite")
    return number


def decimal_to_json(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


@decimal_scalar.serializer
def _serialize_decimal(value: Any) -> int | float:
    return decimal_to_json(to_decimal(value))


@decimal_scalar.value_parser
def _parse_decimal_value(value: Any) -> Decimal:
    return to_decimal(value)


@decimal_scalar.literal_parser
def _parse_decimal_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> Decimal:
    # [assumption] numeric strings are accepted too, as many Decimal scalars do.
    if isinstance(node, IntValueNode | FloatValueNode | StringValueNode):
        return to_decimal(node.value)
    raise ValueError("Decimal must be a number")


@json_scalar.literal_parser
def _parse_json_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    return value_from_ast_untyped(node, variables)


@preset_scalar.value_parser
def _parse_preset_value(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("a preset is a string")
    return value


@preset_scalar.literal_parser
def _parse_preset_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> str:
    # The live API has an enum here, so accept bare names (PORTRAIT) as well as strings.
    if not isinstance(node, StringValueNode | EnumValueNode):
        raise ValueError("a preset is a string")
    return node.value


SCALARS = (decimal_scalar, datetime_scalar, json_scalar, preset_scalar)
