"""The executable schema: the SDL shipped inside ``viesus_client`` plus resolvers and scalars.

Serving the packaged copy (not ``schema/`` of the repository) means an installed toolkit serves
exactly the schema its generated client was built from.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from ariadne import make_executable_schema
from graphql import GraphQLSchema

from viesus.emulator.resolvers import BINDABLES
from viesus.emulator.scalars import SCALARS


def packaged_sdl() -> str:
    return (files("viesus_client") / "schema.graphql").read_text(encoding="utf-8")


@cache
def executable_schema() -> GraphQLSchema:
    return make_executable_schema(packaged_sdl(), *BINDABLES, *SCALARS)
