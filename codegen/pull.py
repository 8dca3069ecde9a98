"""``pull``: introspect a live (or local) endpoint into the committed SDL file.

One POST of the full introspection query (descriptions, deprecations of arguments and input
fields included), with ``x-api-key`` from ``VIESUS_API_KEY``. Errors name the endpoint (with any
userinfo or query string removed: those may carry secrets) and the fix. The file's header says
it was introspected and from where (same secrets removed, no timestamp). The file is written
atomically and only when it changed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import httpx
from graphql import get_introspection_query

from codegen.redact import shown_endpoint
from codegen.sdl import INTROSPECTION_QUERY, sdl_from_introspection

# Older servers reject ``includeDeprecated`` on arguments and input fields: retry without it.
CONSERVATIVE_QUERY = get_introspection_query(descriptions=True)


class PullError(Exception):
    """The endpoint could not be introspected; the message says why and what to do."""


def fetch_sdl(endpoint: str, *, api_key: str | None = None, timeout: float = 60.0) -> str:
    """Introspect ``endpoint`` and return the SDL text the committed file would hold."""
    key = api_key if api_key is not None else os.environ.get("VIESUS_API_KEY")
    headers = {"accept": "application/graphql-response+json, application/json"}
    if key:
        headers["x-api-key"] = key
    where = shown_endpoint(endpoint)
    with httpx.Client(timeout=timeout, headers=headers) as client:
        try:
            data = _introspect(client, endpoint, where, INTROSPECTION_QUERY)
        except PullError as first:
            if "includeDeprecated" not in str(first):
                raise
            data = _introspect(client, endpoint, where, CONSERVATIVE_QUERY)
    try:
        return sdl_from_introspection(data, endpoint)
    except (TypeError, KeyError, ValueError) as exc:
        raise PullError(f"{where} answered an incomplete introspection result: {exc}") from exc


def _introspect(client: httpx.Client, endpoint: str, where: str, query: str) -> dict[str, Any]:
    try:
        response = client.post(
            endpoint, json={"query": query, "operationName": "IntrospectionQuery"}
        )
    except httpx.TimeoutException as exc:
        raise PullError(
            f"{where} did not answer within {client.timeout.read} s; "
            "raise --timeout (introspection of a large schema can be slow)"
        ) from exc
    except httpx.TransportError as exc:
        raise PullError(
            f"could not reach {where} ({type(exc).__name__}); check the URL and network"
        ) from exc
    if response.status_code in (401, 403):
        raise PullError(
            f"{where} refused the API key (HTTP {response.status_code}); "
            "set VIESUS_API_KEY to a valid key"
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not ("data" in body or "errors" in body):
        raise PullError(
            f"{where} answered HTTP {response.status_code} "
            f"({response.headers.get('content-type', 'no content type')}), "
            "which is not a GraphQL response; is this the GraphQL endpoint?"
        )
    errors = body.get("errors")
    if errors:
        messages = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
        raise PullError(f"{where} answered with GraphQL errors: {messages}")
    data = body.get("data")
    if not isinstance(data, dict) or "__schema" not in data:
        raise PullError(f"{where} answered, but not with an introspection result (no __schema)")
    if response.status_code >= 400:
        raise PullError(f"{where} answered HTTP {response.status_code}")
    return data


def write_if_changed(path: Path, text: str) -> bool:
    """Atomically write ``text`` to ``path`` unless it already holds it; True if written."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
