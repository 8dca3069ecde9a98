"""Introspection result -> committed SDL text, deterministically.

The committed file is exactly ``HEADER + print_schema(build_client_schema(result))``: no
timestamps, no endpoint, nothing that differs between two pulls of the same server. That is
what makes "pull twice, byte-identical" and "pull from the emulator equals the committed file"
hold.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLSchema,
    build_client_schema,
    build_schema,
    get_introspection_query,
    introspection_from_schema,
    print_schema,
)

HEADER = """\
# VIESUS Cloud GraphQL API schema (SDL).
#
# Written by `python -m codegen pull` (make pull); never edit it by hand.
# Until the first pull from the live API (https://api.viesus.cloud/graphql) this schema is
# RECONSTRUCTED FROM THE PUBLIC DOCUMENTATION, not introspected. Descriptions carry the
# evidence for each definition:
#   [docs]      shown on docs.viesus.com (reference/cloud-api)
#   [inferred]  not shown; chosen so the documented flows work. A real pull replaces it.
# Enum types list only the values seen; the live API certainly has more, so clients must
# treat an unknown enum value as "not yet known" and never crash on it.
# Refresh: VIESUS_API_KEY=... make pull && make schema-diff && make generate
"""

# Everything the introspection query can ask for: descriptions, deprecated input values and
# arguments, @specifiedBy and repeatable directives (ariadne-codegen's own pull drops them).
INTROSPECTION_QUERY = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
)


def sdl_from_introspection(data: dict[str, Any]) -> str:
    """Turn the ``data`` of an introspection answer into the committed SDL text."""
    schema = build_client_schema(data)  # type: ignore[arg-type]
    return render(schema)


def render(schema: GraphQLSchema) -> str:
    """Print a schema the way the committed file is written."""
    return HEADER + "\n" + print_schema(schema) + "\n"


def normalise_sdl(sdl: str) -> str:
    """What a pull from a server serving ``sdl`` writes (used to seed and to check)."""
    schema = build_schema(sdl)
    return sdl_from_introspection(dict(introspection_from_schema(schema)))
