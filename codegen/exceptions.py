"""Errors raised by the generated client (copied into the generated package).

The same names as ariadne-codegen's own module, so its documentation still applies. They never
carry request headers, so an API key cannot leak through an exception message; a response body
is kept on the object (``response``) but not put into ``str(error)``.
"""

from __future__ import annotations

from typing import Any

import httpx


class GraphQLClientError(Exception):
    """Base class of every error the generated client raises."""


class GraphQLClientHttpError(GraphQLClientError):
    """The server answered with a non-2xx HTTP status."""

    def __init__(self, status_code: int, response: httpx.Response) -> None:
        self.status_code = status_code
        self.response = response
        super().__init__(f"HTTP status code: {status_code}")

    def graphql_errors(self) -> list[dict[str, Any]]:
        """GraphQL ``errors`` inside the non-2xx body, if it has any (e.g. a 401 or a 400)."""
        try:
            body = self.response.json()
        except ValueError:
            return []
        errors = body.get("errors") if isinstance(body, dict) else None
        return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


class GraphQLClientInvalidResponseError(GraphQLClientError):
    """A 2xx answer that is not a GraphQL response (no ``data`` and no ``errors``)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        super().__init__("Invalid response format.")


class GraphQLClientGraphQLError(GraphQLClientError):
    """One entry of a GraphQL ``errors`` list."""

    def __init__(
        self,
        message: str,
        locations: list[dict[str, int]] | None = None,
        path: list[str | int] | None = None,
        extensions: dict[str, object] | None = None,
        orginal: dict[str, object] | None = None,
    ) -> None:
        self.message = message
        self.locations = locations
        self.path = path
        self.extensions = extensions
        self.orginal = orginal

    def __str__(self) -> str:
        return self.message

    @property
    def code(self) -> str | None:
        """``extensions.code`` when the server sets one."""
        code = (self.extensions or {}).get("code")
        return code if isinstance(code, str) else None

    @classmethod
    def from_dict(cls, error: dict[str, Any]) -> GraphQLClientGraphQLError:
        return cls(
            message=str(error.get("message", "")),
            locations=error.get("locations"),
            path=error.get("path"),
            extensions=error.get("extensions"),
            orginal=error,
        )


class GraphQLClientGraphQLMultiError(GraphQLClientError):
    """The answer had GraphQL ``errors``; ``data`` keeps what did succeed (per alias)."""

    def __init__(
        self,
        errors: list[GraphQLClientGraphQLError],
        data: dict[str, Any] | None = None,
    ) -> None:
        self.errors = errors
        self.data = data

    def __str__(self) -> str:
        return "; ".join(str(e) for e in self.errors)

    @classmethod
    def from_errors_dicts(
        cls, errors_dicts: list[dict[str, Any]], data: dict[str, Any] | None = None
    ) -> GraphQLClientGraphQLMultiError:
        return cls(
            errors=[GraphQLClientGraphQLError.from_dict(e) for e in errors_dicts],
            data=data,
        )


class GraphQLClientInvalidMessageFormat(GraphQLClientError):
    """Kept for name compatibility with ariadne-codegen (websocket transport, unused here)."""

    def __init__(self, message: str | bytes) -> None:
        self.message = message

    def __str__(self) -> str:
        return "Invalid message format."
