"""The served schema is the committed SDL, and introspection round-trips."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from graphql import (
    IntrospectionQuery,
    build_client_schema,
    build_schema,
    get_introspection_query,
    print_schema,
)

from tests.emulator.conftest import Api
from viesus_emulator._schema import executable_schema, packaged_sdl

COMMITTED_SDL = Path(__file__).parents[2] / "schema" / "viesus.graphql"


def test_served_schema_is_the_committed_sdl() -> None:
    committed = print_schema(build_schema(COMMITTED_SDL.read_text(encoding="utf-8")))
    assert print_schema(executable_schema()) == committed
    assert print_schema(build_schema(packaged_sdl())) == committed


async def test_introspection_round_trips(api: Api) -> None:
    data = await api.data(get_introspection_query(descriptions=True))
    assert print_schema(build_client_schema(cast(IntrospectionQuery, data))) == print_schema(
        executable_schema()
    )
