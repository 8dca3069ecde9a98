"""ariadne-codegen plugin: a generated package that loads an operation's models when used.

ariadne-codegen's ``__init__.py`` imports every module of the package, and its ``client.py``
imports every operation's result models, so ``import viesus_client`` (or any submodule: the
package ``__init__`` runs first) builds every pydantic model of every operation: about a
quarter of a second measured against ~0.23 s for httpx + pydantic + graphql-core together.

This plugin keeps the names and the types and changes only when modules load:

- ``__init__.py`` keeps its imports for type checkers (``if TYPE_CHECKING:``) and resolves a
  name on first access (PEP 562 ``__getattr__``, defined outside ``TYPE_CHECKING`` so a typo
  is still a type error, not ``Any``);
- ``client.py`` imports an operation's result models inside the method that returns them
  (and for type checkers at the top), so a program that only polls never builds the webhook
  or PDF models.

Used through ariadne-codegen's public plugin API (``plugins`` in ``[tool.ariadne-codegen]``).
"""

from __future__ import annotations

import ast
from typing import Any, TypeGuard

from ariadne_codegen.plugins.base import Plugin
from graphql import GraphQLSchema

#: Modules of the package every client method needs anyway: imported eagerly in ``client.py``.
EAGER_CLIENT_MODULES = {"base_client", "base_model", "base_operation", "input_types", "enums"}

LAZY_INIT = '''
if not TYPE_CHECKING:
    import importlib

    def __getattr__(name: str) -> object:
        """Import the module that defines ``name`` on first use (PEP 562), then cache it."""
        module = _MODULE_OF.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value
        return value
'''


class LazyImportsPlugin(Plugin):
    """Makes the package ``__init__`` and the client's result-model imports lazy."""

    def __init__(self, schema: GraphQLSchema, config_dict: dict[str, Any]) -> None:
        super().__init__(schema, config_dict)

    def generate_init_module(self, module: ast.Module) -> ast.Module:
        imports = [node for node in module.body if _is_relative_import(node)]
        rest = [node for node in module.body if not _is_relative_import(node)]
        module_of = {
            (alias.asname or alias.name): f".{node.module}"
            for node in imports
            for alias in node.names
        }
        table = ast.parse(
            "_MODULE_OF: dict[str, str] = {"
            + "".join(f"{name!r}: {path!r}," for name, path in sorted(module_of.items()))
            + "}"
        ).body
        body: list[ast.stmt] = [
            ast.ImportFrom(module="typing", names=[ast.alias(name="TYPE_CHECKING")], level=0),
            ast.If(
                test=ast.Name(id="TYPE_CHECKING", ctx=ast.Load()),
                body=list[ast.stmt](imports),
                orelse=[],
            ),
            *table,
            *ast.parse(LAZY_INIT).body,
            *rest,
        ]
        return ast.Module(body=body, type_ignores=[])

    def generate_client_module(self, module: ast.Module) -> ast.Module:
        lazy = [
            node
            for node in module.body
            if _is_relative_import(node) and node.module not in EAGER_CLIENT_MODULES
        ]
        module_of = {
            (alias.asname or alias.name): str(node.module) for node in lazy for alias in node.names
        }
        for node in ast.walk(module):
            if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
                _import_inside(node, module_of)
        eager = [node for node in module.body if node not in lazy]
        body: list[ast.stmt] = [
            ast.ImportFrom(module="__future__", names=[ast.alias(name="annotations")], level=0),
            ast.ImportFrom(module="typing", names=[ast.alias(name="TYPE_CHECKING")], level=0),
            *[node for node in eager if isinstance(node, ast.Import | ast.ImportFrom)],
            ast.If(
                test=ast.Name(id="TYPE_CHECKING", ctx=ast.Load()),
                body=list[ast.stmt](lazy),
                orelse=[],
            ),
            *[node for node in eager if not isinstance(node, ast.Import | ast.ImportFrom)],
        ]
        return ast.Module(body=body, type_ignores=module.type_ignores)


def _is_relative_import(node: ast.stmt) -> TypeGuard[ast.ImportFrom]:
    return isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is not None


def _import_inside(
    function: ast.AsyncFunctionDef | ast.FunctionDef, module_of: dict[str, str]
) -> None:
    """Prepend ``from .module import Name`` for each lazily imported name the body uses."""
    used = sorted(
        {
            node.id
            for statement in function.body
            for node in ast.walk(statement)
            if isinstance(node, ast.Name) and node.id in module_of
        }
    )
    imports = [
        ast.ImportFrom(module=module_of[name], names=[ast.alias(name=name)], level=1)
        for name in used
    ]
    function.body[:0] = imports
