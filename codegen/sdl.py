"""Introspection result -> committed SDL text, deterministically.

The committed file is ``header + print_schema(build_client_schema(result))``. The header tells
where the schema came from: a pull writes ``introspected_header(endpoint)`` (the endpoint
without credentials or query string, no timestamp: two pulls of the same server give the same
bytes); the file committed before any pull of the live API carries ``RECONSTRUCTED_HEADER``.
The schema body never depends on the header: ``normalise_sdl`` keeps a file's own header.
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

from codegen.redact import endpoint_without_secrets

_TITLE = """\
# VIESUS Cloud GraphQL API schema (SDL).
#
# Written by `python -m codegen pull` (make pull); never edit it by hand.
"""

_REFRESH = "# Refresh: VIESUS_API_KEY=... make pull && make schema-diff && make generate\n"

RECONSTRUCTED_HEADER = (
    _TITLE
    + """\
# Until the first pull from the live API (https://api.viesus.cloud/graphql) this schema is
# RECONSTRUCTED FROM THE PUBLIC DOCUMENTATION, not introspected. Descriptions carry the
# evidence for each definition:
#   [docs]      shown on docs.viesus.com (reference/cloud-api)
#   [inferred]  not shown; chosen so the documented flows work. A real pull replaces it.
# Enum types list only the values seen; the live API certainly has more, so clients must
# treat an unknown enum value as "not yet known" and never crash on it.
"""
    + _REFRESH
)

# Everything the introspection query can ask for: descriptions, deprecated input values and
# arguments, @specifiedBy and repeatable directives (ariadne-codegen's own pull drops them).
INTROSPECTION_QUERY = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
)


def introspected_header(endpoint: str) -> str:
    """The header of a pulled file: which endpoint answered (no secrets), and nothing timed."""
    return (
        _TITLE
        + f"# INTROSPECTED from {endpoint_without_secrets(endpoint)}\n"
        + "# (credentials, query string and fragment of the endpoint URL are never written).\n"
        + "# Descriptions are the server's own. Clients must treat an enum value they do not\n"
        + '# know as "not yet known" and never crash on it: servers add values.\n'
        + _REFRESH
    )


def sdl_from_introspection(data: dict[str, Any], endpoint: str) -> str:
    """Turn the ``data`` of ``endpoint``'s introspection answer into the committed SDL text."""
    schema = build_client_schema(data)  # type: ignore[arg-type]
    return render(schema, introspected_header(endpoint))


def render(schema: GraphQLSchema, header: str) -> str:
    """Print a schema the way the committed file is written."""
    return header + "\n" + print_schema(schema) + "\n"


def split_header(sdl: str) -> tuple[str, str]:
    """``(leading comment lines, the rest)`` of an SDL file."""
    lines = sdl.splitlines(keepends=True)
    count = 0
    while count < len(lines) and lines[count].startswith("#"):
        count += 1
    return "".join(lines[:count]), "".join(lines[count:])


def schema_text(sdl: str) -> str:
    """The SDL without its header: what two files must share to describe the same schema."""
    return split_header(sdl)[1]


def normalise_sdl(sdl: str) -> str:
    """``sdl`` as a pull from a server serving it writes the body (its own header is kept)."""
    header, _ = split_header(sdl)
    schema = build_client_schema(introspection_from_schema(build_schema(sdl)))
    return render(schema, header)
