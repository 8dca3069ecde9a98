"""The executable schema: the SDL shipped inside ``viesus_client`` plus resolvers and scalars.

Serving the packaged copy (not ``schema/`` of the repository) means an installed toolkit serves
exactly the schema its generated client was built from.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from ariadne import make_executable_schema
from graphql import GraphQLEnumType, GraphQLSchema

from viesus_emulator._resolvers import BINDABLES
from viesus_emulator._scalars import SCALARS


def packaged_sdl() -> str:
    return (files("viesus_client") / "schema.graphql").read_text(encoding="utf-8")


@cache
def executable_schema() -> GraphQLSchema:
    schema = make_executable_schema(packaged_sdl(), *BINDABLES, *SCALARS)
    _unpatch_enum_parse_value(schema)
    return schema


def _unpatch_enum_parse_value(schema: GraphQLSchema) -> None:
    """Undo ariadne 1.1's per-instance ``parse_value`` patch of every enum type.

    The patch takes one argument, but graphql-core 3.2.14 calls an enum's ``parse_value``
    with two (``hide_suggestions``), so every enum passed in *variables* failed. The patch
    only matters for enums bound to Python values; here enum values are their names.
    """
    for type_def in schema.type_map.values():
        if isinstance(type_def, GraphQLEnumType) and "parse_value" in vars(type_def):
            del type_def.parse_value
