"""A schema-only GraphQL server (ariadne + uvicorn) serving the committed SDL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ariadne import make_executable_schema
from ariadne.asgi import GraphQL

from tests.servers import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "schema" / "viesus.graphql"


def schema_app(root_value: dict[str, Any] | None = None) -> GraphQL:
    schema = make_executable_schema(SCHEMA_PATH.read_text(encoding="utf-8"))
    return GraphQL(schema, root_value=root_value, introspection=True)


@pytest.fixture(scope="session")
def committed_sdl() -> str:
    return SCHEMA_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def schema_server() -> Iterator[str]:
    """Endpoint of a spec-compliant server with default resolvers and a small root value."""
    root = {
        "credits": {
            "periodStart": "2026-11-01T00:00:00Z",
            "periodEnd": "2026-12-01T00:00:00Z",
            "usedCreditsThisPeriod": 7,
            "remainingCreditsThisPeriod": 93,
        },
        "createWebhook": lambda _info, input: {
            "id": "wh_1",
            "url": input["url"],
            "secret": "s3cret-value",
            "createdAt": "2026-11-24T10:00:00Z",
        },
    }
    with serve_in_thread(schema_app(root)) as base:
        yield f"{base}/graphql/"
