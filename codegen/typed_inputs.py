"""ariadne-codegen plugin: input models whose constructor type-checks the way it runs.

At run time the generated input models accept the snake_case field names (the base model sets
``populate_by_name``), enum values as plain strings (``"X2"``) and numbers for ``Decimal``
fields. A user's type checker without pydantic's mypy plugin sees none of that: pydantic's
``dataclass_transform`` makes the *aliases* (``upscalingFactor``) the constructor's parameters
and wants enum members and ``Decimal`` objects.

So for every input class ``X`` this plugin writes a ``TypedDict`` ``XArgs`` (snake_case keys,
the field types widened by what pydantic converts) and gives ``X`` an ``__init__`` that exists
for type checkers only (inside ``if TYPE_CHECKING:``): ``def __init__(self, **fields:
Unpack[XArgs])``. ``EnhanceOptions(upscaling_factor="X2")`` then passes ``mypy --strict``.
Nothing changes at run time. A hand-written subclass (type checkers synthesise a new
constructor for it) declares the same one-line ``__init__`` with the parent's ``XArgs``.

Used through ariadne-codegen's public plugin API (``plugins`` in ``[tool.ariadne-codegen]``).
"""

from __future__ import annotations

import ast
from typing import Any

from ariadne_codegen.plugins.base import Plugin
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
)

#: Extra argument types pydantic accepts (and converts) for a scalar, by GraphQL scalar name.
LAX_SCALARS = {"Decimal": ["float", "int"]}
IMPORT = "from typing import TYPE_CHECKING, Literal, Required, TypedDict, Unpack"


class TypedInitPlugin(Plugin):
    """Adds ``XArgs`` TypedDicts and ``if TYPE_CHECKING: def __init__(self, **fields)``."""

    def __init__(self, schema: GraphQLSchema, config_dict: dict[str, Any]) -> None:
        super().__init__(schema, config_dict)
        self._typed_dicts: list[ast.stmt] = []

    def generate_input_class(
        self, class_def: ast.ClassDef, input_type: GraphQLInputObjectType
    ) -> ast.ClassDef:
        keys = [
            _key(node, input_type)
            for node in class_def.body
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
        ]
        args = f"{class_def.name}Args"
        typed_dict = (
            f"class {args}(TypedDict, total=False):\n"
            f'    """Keyword arguments of ``{class_def.name}(...)`` as type checkers see them."""\n'
            + "".join(f"    {key}\n" for key in keys)
        )
        self._typed_dicts.append(ast.parse(typed_dict).body[0])
        init = (
            "if TYPE_CHECKING:\n"
            f"    def __init__(self, **fields: Unpack['{args}']) -> None:\n"
            '        """Type checkers only: snake_case names, enum values as strings."""\n'
        )
        class_def.body.append(ast.parse(init).body[0])
        return class_def

    def generate_inputs_module(self, module: ast.Module) -> ast.Module:
        module.body.insert(0, ast.parse(IMPORT).body[0])
        module.body.extend(self._typed_dicts)
        return module


def _key(node: ast.AnnAssign, input_type: GraphQLInputObjectType) -> str:
    """``name: Type`` for the TypedDict; ``Required[...]`` when the model has no default."""
    assert isinstance(node.target, ast.Name)
    name = node.target.id
    field = input_type.fields[_graphql_name(node) or name]
    annotation = ast.unparse(node.annotation)
    extra = _lax_types(field.type)
    if extra:
        annotation = f"Union[{annotation}, {', '.join(extra)}]"
    if not _has_default(node.value):
        annotation = f"Required[{annotation}]"
    return f"{name}: {annotation}"


def _graphql_name(node: ast.AnnAssign) -> str | None:
    """The ``alias`` of ``name: T = Field(alias="graphqlName", ...)``, if any."""
    if isinstance(node.value, ast.Call):
        for keyword in node.value.keywords:
            if keyword.arg == "alias" and isinstance(keyword.value, ast.Constant):
                return str(keyword.value.value)
    return None


def _has_default(value: ast.expr | None) -> bool:
    if value is None:
        return False
    if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "Field":
        return any(k.arg in ("default", "default_factory") for k in value.keywords)
    return True


def _lax_types(type_: GraphQLInputType) -> list[str]:
    """What pydantic also accepts for a (non-list) field of this GraphQL type."""
    named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(named, GraphQLEnumType):
        return ["Literal[" + ", ".join(repr(v) for v in named.values) + "]"]
    if isinstance(named, GraphQLScalarType):
        return LAX_SCALARS.get(named.name, [])
    return []
