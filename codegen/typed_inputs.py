"""ariadne-codegen plugin: input models whose constructor type-checks the way it runs.

At run time the generated input models accept the snake_case field names (the base model sets
``populate_by_name``), enum values as plain strings (``"X2"``) and numbers for ``Decimal``
fields. A user's type checker without pydantic's mypy plugin sees none of that: pydantic's
``dataclass_transform`` makes the *aliases* (``upscalingFactor``) the constructor's parameters
and wants enum members and ``Decimal`` objects. This plugin adds to every input class an
``__init__`` signature that exists for type checkers only (inside ``if TYPE_CHECKING:``), so
``EnhanceOptions(upscaling_factor="X2")`` passes ``mypy --strict``. Nothing changes at run time.

Used through ariadne-codegen's public plugin API (``plugins`` in ``[tool.ariadne-codegen]``).
"""

from __future__ import annotations

import ast

from ariadne_codegen.plugins.base import Plugin
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLNonNull,
    GraphQLScalarType,
)

#: Extra argument types pydantic accepts (and converts) for a scalar, by GraphQL scalar name.
LAX_SCALARS = {"Decimal": ["float", "int"]}


class TypedInitPlugin(Plugin):
    """Adds ``if TYPE_CHECKING: def __init__(self, *, field: type = default, ...)``."""

    def generate_inputs_module(self, module: ast.Module) -> ast.Module:
        module.body.insert(0, ast.parse("from typing import TYPE_CHECKING, Literal").body[0])
        return module

    def generate_input_class(
        self, class_def: ast.ClassDef, input_type: GraphQLInputObjectType
    ) -> ast.ClassDef:
        parameters = [
            _parameter(node, input_type)
            for node in class_def.body
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
        ]
        if not parameters:
            return class_def
        source = (
            "if TYPE_CHECKING:\n"
            "    def __init__(self, *, " + ", ".join(parameters) + ") -> None:\n"
            '        """Type checkers only: snake_case names, enum values as strings."""\n'
        )
        class_def.body.append(ast.parse(source).body[0])
        return class_def


def _parameter(node: ast.AnnAssign, input_type: GraphQLInputObjectType) -> str:
    assert isinstance(node.target, ast.Name)
    name = node.target.id
    field = input_type.fields[_graphql_name(node) or name]
    annotation = ast.unparse(node.annotation)
    extra = _lax_types(field.type)
    if extra:
        annotation = f"Union[{annotation}, {', '.join(extra)}]"
    default = _default(node.value)
    return f"{name}: {annotation}" + (f" = {default}" if default is not None else "")


def _graphql_name(node: ast.AnnAssign) -> str | None:
    """The ``alias`` of ``name: T = Field(alias="graphqlName", ...)``, if any."""
    if isinstance(node.value, ast.Call):
        for keyword in node.value.keywords:
            if keyword.arg == "alias" and isinstance(keyword.value, ast.Constant):
                return str(keyword.value.value)
    return None


def _default(value: ast.expr | None) -> str | None:
    """The default of the field as source text (``None`` when the field is required)."""
    if value is None:
        return None
    if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "Field":
        for keyword in value.keywords:
            if keyword.arg == "default":
                return ast.unparse(keyword.value)
        return None
    return ast.unparse(value)


def _lax_types(type_: GraphQLInputType) -> list[str]:
    """What pydantic also accepts for a (non-list) field of this GraphQL type."""
    named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(named, GraphQLEnumType):
        return ["Literal[" + ", ".join(repr(v) for v in named.values) + "]"]
    if isinstance(named, GraphQLScalarType):
        return LAX_SCALARS.get(named.name, [])
    return []
