"""One command-line flag per ``EnhancedImageInput`` field, built from the generated table.

``viesus_client.enhancement_parameters.PARAMETERS`` is rendered from the SDL by ``codegen``,
so a field added to the schema becomes a flag here by regenerating: nothing in this module
names a field except the three short aliases. A flag is the kebab-case of the field's GraphQL
path (``customColorConfig.highlightfac`` -> ``--custom-color-config-highlightfac``); enum
fields take their values as choices; numbers carry their range into ``--help`` and are checked
when parsed (Decimal, so ``0.1`` stays exactly 0.1 on the wire).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Protocol

import typer

# Short aliases for the options a lab uses every day (the long flag always works too).
ALIASES: Mapping[str, str] = {
    "upscalingFactor": "--upscale",
    "noiseReductionProfilingStrength": "--denoise",
}
PANEL = "Enhancement parameters (EnhancedImageInput)"


class ParameterRow(Protocol):
    """The columns of a generated ``Parameter`` this module reads."""

    @property
    def graphql_path(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def enum_values(self) -> tuple[str, ...]: ...
    @property
    def minimum(self) -> Decimal | None: ...
    @property
    def maximum(self) -> Decimal | None: ...
    @property
    def feature(self) -> str: ...
    @property
    def credits(self) -> int: ...
    @property
    def description(self) -> str: ...


def kebab(camel: str) -> str:
    """``upscalingCustomDPI`` -> ``upscaling-custom-dpi`` (acronyms stay one word)."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", camel)
    return words.lower()


@dataclass(frozen=True)
class DecimalRange:
    """Parses a decimal number within the schema's documented range (either bound optional).

    Decimal, not float: ``0.1`` reaches the wire as exactly 0.1.
    """

    minimum: Decimal | None
    maximum: Decimal | None

    def __call__(self, value: Any) -> Decimal:
        if isinstance(value, Decimal):
            number = value
        else:
            try:
                number = Decimal(str(value).strip())
            except InvalidOperation:
                raise typer.BadParameter(f"{value!r} is not a number") from None
        if not number.is_finite():
            raise typer.BadParameter(f"{value!r} is not a finite number")
        if (self.minimum is not None and number < self.minimum) or (
            self.maximum is not None and number > self.maximum
        ):
            raise typer.BadParameter(f"{value} is not in the range {self.text()}")
        return number

    def text(self) -> str:
        low = "" if self.minimum is None else str(self.minimum)
        high = "" if self.maximum is None else str(self.maximum)
        return f"{low}-{high}" if low and high else (f">={low}" if low else f"<={high}")


@dataclass(frozen=True)
class Flag:
    """One generated flag: its names, how its value is typed and checked, where it goes."""

    graphql_path: str
    dest: str  # the Python identifier the value is passed under
    names: tuple[str, ...]
    kind: str
    type_text: str  # what --help and the contract snapshot call the type
    help: str
    choices: tuple[str, ...] = ()
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    def convert(self, value: Any) -> Any:
        """Check and type a value (from a config file) as the flag's parser would."""
        if self.kind == "enum":
            text = str(value).upper()
            if text not in self.choices:
                raise typer.BadParameter(f"{value!r} is not one of {', '.join(self.choices)}")
            return text
        if self.kind in ("decimal", "float"):
            return DecimalRange(self.minimum, self.maximum)(value)
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise typer.BadParameter(f"{value!r} is not a whole number")
            try:
                number = int(value)
            except ValueError:
                raise typer.BadParameter(f"{value!r} is not a whole number") from None
            low = 1 if self.minimum is None else int(self.minimum)
            if number < low or (self.maximum is not None and number > int(self.maximum)):
                raise typer.BadParameter(f"{value} is not in the range {self.type_text}")
            return number
        if self.kind == "boolean":
            if not isinstance(value, bool):
                raise typer.BadParameter(f"{value!r} is not true or false")
            return value
        return str(value)


def _type_text(row: ParameterRow) -> str:
    if row.kind == "enum":
        return "|".join(row.enum_values)
    if row.kind in ("decimal", "float"):
        if row.minimum is None and row.maximum is None:
            return "decimal"
        return "decimal " + DecimalRange(row.minimum, row.maximum).text()
    if row.kind == "int":
        low = 1 if row.minimum is None else int(row.minimum)
        return f"int >={low}" if row.maximum is None else f"int {low}-{int(row.maximum)}"
    if row.kind == "boolean":
        return "true|false"
    return "text"


def build_flags(table: Iterable[ParameterRow]) -> list[Flag]:
    """The flags for every settable field of ``table`` (input-object parents are not flags)."""
    flags: list[Flag] = []
    for row in table:
        if row.kind == "input":
            continue  # its fields are flags of their own
        long = "--" + "-".join(kebab(part) for part in row.graphql_path.split("."))
        names = (long,) + ((ALIASES[row.graphql_path],) if row.graphql_path in ALIASES else ())
        type_text = _type_text(row)
        price = f"feature {row.feature}: {row.credits} credit{'s' if row.credits != 1 else ''}"
        described = f"{row.description} " if row.description else ""
        # Parentheses, not brackets: rich would read "[...]" as markup and drop it.
        help_text = f"{described}({row.graphql_path}; {type_text}; {price})"
        dest = "p_" + long[2:].replace("-", "_")
        flags.append(
            Flag(
                row.graphql_path,
                dest,
                names,
                row.kind,
                type_text,
                help_text,
                tuple(row.enum_values),
                row.minimum,
                row.maximum,
            )
        )
    return flags


def _annotation(flag: Flag) -> Any:
    if flag.kind == "enum":
        choices: Any = Literal.__getitem__(flag.choices)
        return choices | None
    if flag.kind == "int":
        return int | None
    if flag.kind == "boolean":
        return bool | None
    return str | None


_METAVAR = {"decimal": "DECIMAL", "float": "DECIMAL", "int": "INT", "string": "TEXT"}


def signature_parameters(flags: Sequence[Flag]) -> list[inspect.Parameter]:
    """Keyword-only parameters typer turns into the flags (all default to "not set")."""
    parameters = []
    for flag in flags:
        extra: dict[str, Any] = {}
        if flag.kind in ("decimal", "float"):
            extra["parser"] = DecimalRange(flag.minimum, flag.maximum)
        elif flag.kind == "int":
            extra["min"] = 1 if flag.minimum is None else int(flag.minimum)
            if flag.maximum is not None:
                extra["max"] = int(flag.maximum)
        option = typer.Option(
            None,
            *flag.names,
            help=flag.help,
            rich_help_panel=PANEL,
            show_default=False,
            metavar=_METAVAR.get(flag.kind),
            **extra,
        )
        parameters.append(
            inspect.Parameter(
                flag.dest,
                inspect.Parameter.KEYWORD_ONLY,
                default=option,
                annotation=_annotation(flag),
            )
        )
    return parameters


def options_from_flags(flags: Sequence[Flag], values: Mapping[str, Any]) -> dict[str, Any]:
    """The GraphQL-named options mapping of the flags that were given (nested by path)."""
    options: dict[str, Any] = {}
    for flag in flags:
        value = values.get(flag.dest)
        if value is None:
            continue
        set_path(options, flag.graphql_path, value)
    return options


def set_path(options: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = options
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def flag_for_name(flags: Sequence[Flag], name: str) -> Flag | None:
    """A flag by GraphQL path, flag name (with or without ``--``) or snake_case name."""
    wanted = name.strip().lstrip("-").replace("_", "-").lower()
    for flag in flags:
        candidates = {flag.graphql_path.lower(), *(n.lstrip("-") for n in flag.names)}
        if wanted in candidates or name == flag.graphql_path:
            return flag
    return None
