"""``EnhanceOptions``: what a caller passes as options converted, and validated against the
generated table (names, types, ranges, enum values), or refused.

The generated ``EnhancedImageInput`` ignores names it does not know (pydantic's default), so
``upscaling_factr="X2"`` used to vanish and a default enhancement was charged instead. Options
are what a caller pays for, so a name this client does not know is refused, with the closest
valid name (``difflib``), before anything is uploaded. A plain ``dict`` (GraphQL names or
snake_case) is converted here, so it gets the same range checks, limits, estimate and
``max_credits`` as ``EnhanceOptions``.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, Unpack

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic.fields import FieldInfo

from viesus._errors import InvalidInput, InvalidOption, UnknownOption
from viesus_client.enhancement_parameters import PARAMETERS, Parameter
from viesus_client.input_types import EnhancedImageInput

if TYPE_CHECKING:
    from viesus_client.input_types import EnhancedImageInputArgs

__all__ = ["EnhanceOptions", "as_options", "option_value", "validate_options"]


class EnhanceOptions(EnhancedImageInput):
    """The options of one enhancement: the generated ``EnhancedImageInput``, strict about names.

    Fields take their snake_case names (``upscaling_factor="X2"``) or, through
    ``EnhanceOptions.model_validate({...})``, the GraphQL names (``upscalingFactor``). Unset
    fields are not sent. An unknown name raises ``InvalidOption`` naming the closest valid one,
    so a typo never silently buys the default enhancement.
    """

    model_config = ConfigDict(extra="forbid")

    if TYPE_CHECKING:  # type checkers give a subclass its own constructor: keep the typed one

        def __init__(self, **fields: Unpack[EnhancedImageInputArgs]) -> None: ...

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_names(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            refuse_unknown_names(data, EnhancedImageInput)
        return data


def as_options(options: object) -> EnhancedImageInput:
    """``options`` as validated ``EnhanceOptions``: ``None`` -> defaults; a dict is converted.

    An ``EnhancedImageInput`` built elsewhere is kept as it is (it can no longer tell which
    names it dropped). Raises ``InvalidOption`` for an unknown name, a wrong type or a value
    out of range, and ``InvalidInput`` for options of another type.
    """
    if options is None:
        converted: EnhancedImageInput = EnhanceOptions()
    elif isinstance(options, EnhancedImageInput):
        converted = options
    elif isinstance(options, Mapping):
        converted = _from_mapping(options)
    else:
        raise InvalidInput(
            "options",
            f"a {type(options).__name__} is not enhancement options; pass EnhanceOptions(...) "
            "or a dict such as {'upscalingFactor': 'X2'}",
        )
    validate_options(converted)
    return converted


def _from_mapping(options: Mapping[Any, Any]) -> EnhanceOptions:
    try:
        return EnhanceOptions.model_validate(dict(options))
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        location = [str(part) for part in first["loc"]]
        python_name, graphql_name = _names_at(location)
        value = _value_at(options, location)
        raise InvalidOption(python_name, graphql_name, _shown(value), first["msg"]) from None


def refuse_unknown_names(data: Mapping[Any, Any], model: type[BaseModel], prefix: str = "") -> None:
    """Raise ``UnknownOption`` for the first key of ``data`` that is no field of ``model``.

    Nested option groups (``customColorConfig``) given as mappings are checked too.
    """
    fields = _fields_by_any_name(model)
    for key, value in data.items():
        field = fields.get(str(key))
        if field is None:
            candidates = sorted(fields)
            close = difflib.get_close_matches(str(key), candidates, n=1, cutoff=0.6)
            raise UnknownOption(prefix + str(key), close[0] if close else None, candidates)
        nested = _nested_model(field)
        if nested is not None and isinstance(value, Mapping):
            refuse_unknown_names(value, nested, f"{prefix}{key}.")


def _fields_by_any_name(model: type[BaseModel]) -> dict[str, FieldInfo]:
    names: dict[str, FieldInfo] = {}
    for name, field in model.model_fields.items():
        names[name] = field
        if field.alias:
            names[field.alias] = field
    return names


def _nested_model(field: FieldInfo) -> type[BaseModel] | None:
    for candidate in (field.annotation, *typing.get_args(field.annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _names_at(location: list[str]) -> tuple[str, str]:
    """(python dotted name, GraphQL dotted name) of a validation error's location."""
    model: type[BaseModel] | None = EnhancedImageInput
    python_parts: list[str] = []
    graphql_parts: list[str] = []
    for part in location:
        python_name = graphql_name = part
        if model is not None:
            by_name = {
                alias: name
                for name, field in model.model_fields.items()
                for alias in (name, field.alias or name)
            }
            python_name = by_name.get(part, part)
            field = model.model_fields.get(python_name)
            graphql_name = (field.alias or python_name) if field is not None else part
            model = _nested_model(field) if field is not None else None
        python_parts.append(python_name)
        graphql_parts.append(graphql_name)
    return ".".join(python_parts), ".".join(graphql_parts)


def _value_at(options: Mapping[Any, Any], location: list[str]) -> object:
    value: object = options
    for part in location:
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _shown(value: object) -> object:
    """A value for an error message: short scalars as they are, anything else by its type."""
    if isinstance(value, int | float | bool) or value is None:
        return value
    if isinstance(value, str) and len(value) <= 40:
        return repr(value)
    return f"<{type(value).__name__}>"


def validate_options(options: EnhancedImageInput) -> None:
    """Check every set option against the generated table: ranges, enum values, positivity.

    pydantic already checked the types; this checks what the SDL can only say in words
    (``0.0-1.0``), including the nested ``customColorConfig`` fields. Raises ``InvalidOption``
    (an ``InvalidInput``) naming the option by its Python and GraphQL names, the value and the
    allowed range.
    """
    for parameter in PARAMETERS:
        value = option_value(options, parameter.python_name)
        if value is not None:
            _check_parameter(parameter, value)


def _check_parameter(parameter: Parameter, value: Any) -> None:
    def reject(allowed: str) -> InvalidOption:
        return InvalidOption(parameter.python_name, parameter.graphql_path, value, allowed)

    if parameter.kind == "enum":
        raw = value.value if isinstance(value, Enum) else value
        if raw not in parameter.enum_values:
            raise reject("one of " + ", ".join(parameter.enum_values))
        return
    if parameter.kind not in ("decimal", "int", "float"):
        return
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise reject(f"a number ({parameter.kind})")
    number = Decimal(value) if isinstance(value, int | float) else value
    if not number.is_finite():
        raise reject("a finite number")
    low, high = parameter.minimum, parameter.maximum
    if parameter.kind == "int" and low is None:
        low = Decimal(1)  # pixel widths and DPI: a positive whole number
    if (low is not None and number < low) or (high is not None and number > high):
        raise reject(_range_text(low, high))


def _range_text(low: Decimal | None, high: Decimal | None) -> str:
    if low is not None and high is not None:
        return f"from {low} to {high}"
    if low is not None:
        return f"at least {low}"
    return f"at most {high}"


def option_value(options: EnhancedImageInput, python_name: str) -> Any:
    """The value of a (possibly dotted, nested) option, or ``None`` when unset."""
    value: Any = options
    for part in python_name.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value
