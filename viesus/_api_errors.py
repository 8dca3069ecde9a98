"""Map what the generated client and httpx raise onto the toolkit's typed errors.

ariadne-codegen leaves several failures raw (design notes): connection errors and timeouts,
GraphQL errors inside a 4xx body, errors-only answers. This is the one place that turns each
of them into a :mod:`viesus._errors` class, with messages free of keys, bodies and signed URLs.
"""

from __future__ import annotations

from typing import Any

import httpx

from viesus._connection_errors import transport_failure
from viesus._errors import (
    AuthenticationError,
    GraphQLRequestError,
    InsufficientCredits,
    RateLimitError,
    ServerError,
    ViesusError,
)
from viesus._retries import retry_after_seconds
from viesus_client.exceptions import (
    GraphQLClientGraphQLError,
    GraphQLClientGraphQLMultiError,
    GraphQLClientHttpError,
    GraphQLClientInvalidResponseError,
)

AUTH_CODES = frozenset({"UNAUTHENTICATED", "UNAUTHORIZED", "FORBIDDEN"})


def graphql_error(error: GraphQLClientGraphQLError) -> ViesusError:
    """One GraphQL error entry -> a typed error."""
    code = error.code
    path = tuple(error.path or ())
    if code in AUTH_CODES:
        return AuthenticationError(f"the API refused the key: {error.message}")
    if code == "INSUFFICIENT_CREDITS":
        return _insufficient_credits(error)
    return GraphQLRequestError(error.message, code=code, path=path)


def map_error(exc: BaseException) -> ViesusError:
    """Any failure of a request -> the typed error a caller can act on."""
    if isinstance(exc, ViesusError):
        return exc
    if isinstance(exc, GraphQLClientHttpError):
        status = exc.status_code
        errors = [GraphQLClientGraphQLError.from_dict(e) for e in exc.graphql_errors()]
        if status in (401, 403):
            return AuthenticationError(
                f"the API refused the key (HTTP {status}); check VIESUS_API_KEY"
            )
        if status == 429:
            return RateLimitError(
                "rate limited (HTTP 429) after retries", retry_after_seconds(exc.response)
            )
        if status >= 500:
            return ServerError(f"server error (HTTP {status}) after retries", status)
        if errors:
            first = graphql_error(errors[0])
            if isinstance(first, GraphQLRequestError):
                first.args = (f"HTTP {status}: {first}",)
            return first
        return ServerError(f"unexpected HTTP {status}", status)
    if isinstance(exc, GraphQLClientGraphQLMultiError):
        return graphql_error(exc.errors[0]) if exc.errors else ServerError("empty GraphQL errors")
    if isinstance(exc, GraphQLClientInvalidResponseError):
        return ServerError(
            f"the endpoint answered HTTP {exc.response.status_code} but not with GraphQL",
            exc.response.status_code,
        )
    if isinstance(exc, httpx.TransportError):  # timeouts included
        return ServerError(transport_failure(exc))
    return ViesusError(f"unexpected {type(exc).__name__}")


def _insufficient_credits(error: GraphQLClientGraphQLError) -> InsufficientCredits:
    """The server refused a job for lack of credits. Its numbers, when it sends them
    (``cost``/``available`` in the emulator, ``needed``/``remaining`` [assumption] in the live
    service), go in the message; when it sends none, the message says so, never "-1"."""
    extensions = error.extensions or {}
    needed = _int(extensions.get("needed", extensions.get("cost")))
    available = _int(extensions.get("remaining", extensions.get("available")))
    result = InsufficientCredits(needed=needed, available=available, what="the server")
    if needed is None or available is None:
        result.args = (f"the server refused the job for lack of credits: {error.message}",)
    else:
        result.args = (
            f"the server refused the job for lack of credits: it needs {needed}, "
            f"{available} are available ({error.message})",
        )
    return result


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
