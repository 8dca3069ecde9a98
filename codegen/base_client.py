"""The base class of the generated client (copied into ``generated/`` by ariadne-codegen).

Why our own instead of ariadne-codegen's: it takes a shared ``httpx.AsyncClient`` and never
closes one it did not create (the facade and the typed client share one connection pool); it is
``mypy --strict`` clean without the websocket fallback block; it sends compact JSON with
Decimal as a number; an errors-only answer becomes a typed error instead of ``None`` data.
There are no subscriptions in the VIESUS API, so there is no websocket transport.
"""

from __future__ import annotations

import json
from decimal import Decimal
from enum import Enum
from typing import Any, Self, cast

import httpx
from pydantic import BaseModel as PydanticBaseModel

from .base_model import UNSET
from .exceptions import (
    GraphQLClientGraphQLMultiError,
    GraphQLClientHttpError,
    GraphQLClientInvalidResponseError,
)
from .scalars import serialize_decimal

ACCEPT = "application/graphql-response+json, application/json;q=0.9"


class AsyncBaseClient:
    def __init__(
        self,
        url: str = "",
        headers: dict[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self.headers = dict(headers or {})
        self._owns_http_client = http_client is None
        self.http_client = http_client if http_client is not None else httpx.AsyncClient()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: object, exc_val: object, exc_tb: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client, but only if this object created it."""
        if self._owns_http_client:
            await self.http_client.aclose()

    async def execute(
        self,
        query: str,
        operation_name: str | None = None,
        variables: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """POST one GraphQL document; ``kwargs`` go to ``httpx.AsyncClient.post``."""
        payload = {
            "query": query,
            "operationName": operation_name,
            "variables": encode_variables(variables or {}),
        }
        headers = {"content-type": "application/json", "accept": ACCEPT, **self.headers}
        headers.update(kwargs.pop("headers", None) or {})
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        return await self.http_client.post(self.url, content=body, headers=headers, **kwargs)

    def get_data(self, response: httpx.Response) -> dict[str, Any]:
        """The ``data`` of a GraphQL answer, or the matching typed error."""
        if not 200 <= response.status_code <= 299:
            raise GraphQLClientHttpError(status_code=response.status_code, response=response)
        try:
            body = response.json()
        except ValueError as exc:
            raise GraphQLClientInvalidResponseError(response=response) from exc
        if not isinstance(body, dict) or ("data" not in body and "errors" not in body):
            raise GraphQLClientInvalidResponseError(response=response)
        data = body.get("data")
        errors = body.get("errors")
        if errors:
            raise GraphQLClientGraphQLMultiError.from_errors_dicts(errors_dicts=errors, data=data)
        if not isinstance(data, dict):
            raise GraphQLClientInvalidResponseError(response=response)
        return cast(dict[str, Any], data)


def encode_variables(variables: dict[str, Any]) -> dict[str, Any]:
    """Variables -> JSON-ready values; UNSET ones are left out, never sent as null."""
    return {key: encode_value(value) for key, value in variables.items() if value is not UNSET}


def encode_value(value: Any) -> Any:
    if isinstance(value, PydanticBaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, Decimal):
        return serialize_decimal(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [encode_value(item) for item in value]
    if isinstance(value, dict):
        return {k: encode_value(v) for k, v in value.items() if v is not UNSET}
    return value
