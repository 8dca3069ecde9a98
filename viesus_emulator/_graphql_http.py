"""The ``/graphql`` route, GraphQL over HTTP as its spec describes it.

A request is read (``handle``, ``_read_params``), admitted (``_admit``: parse, the
``_query_limits`` cheapest first, validation), maybe faulted (``_inject_fault``, POSTs only)
and executed (``_execute``); every error carries ``extensions.code``.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import logging
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from viesus_emulator import _codes as codes
from viesus_emulator._faults import NO_FAULT, FaultDecision
from viesus_emulator._query_limits import (
    CostEstimator,
    DocumentRefused,
    check_cost,
    check_root_fields,
    check_shape,
    measure,
    root_fields,
)
from viesus_emulator._schema import executable_schema
from viesus_emulator._world import EmulatorState

log = logging.getLogger("viesus_emulator.graphql")

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"


@dataclass(frozen=True)
class _Admitted:
    """A document that passed every limit and validation, ready to execute."""

    document: DocumentNode
    operation: OperationDefinitionNode
    name: str | None
    root_names: list[str]


class InjectedDisconnect(Exception):
    """Raised after a deliberately truncated response, so the server drops the connection."""


class TruncatedResponse(Response):
    """Sends the head and half of ``body``, then breaks the connection (an injected fault).

    The head promises the full Content-Length, so the client sees a transport error (peer
    closed the connection before the body was complete), never a parsable answer.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send(
            {
                "type": "http.response.body",
                "body": self.body[: len(self.body) // 2],
                "more_body": True,
            }
        )
        raise InjectedDisconnect("injected fault: connection dropped")


def negotiate(accept: str | None) -> str | None:
    """The media type to answer with, or None when the client accepts neither JSON type."""
    if not accept or not accept.strip():
        return APPLICATION_JSON
    best: tuple[float, int, int, str] | None = None
    for candidate in (GRAPHQL_RESPONSE_JSON, APPLICATION_JSON):
        quality, specificity = _quality(accept, candidate)
        if quality <= 0:
            continue
        # Higher q wins, then the more specific match. On a full tie a client that names
        # graphql-response+json explicitly gets it; a wildcard gets application/json (legacy).
        named = candidate == GRAPHQL_RESPONSE_JSON and specificity == 2
        preference = 1 if named or (candidate == APPLICATION_JSON and specificity < 2) else 0
        key = (quality, specificity, preference, candidate)
        if best is None or key[:3] > best[:3]:
            best = key
    return None if best is None else best[3]


def _quality(accept: str, candidate: str) -> tuple[float, int]:
    main = candidate.partition("/")[0]
    found: tuple[float, int] = (0.0, -1)
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        media = media.lower()
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media == candidate:
            specificity = 2
        elif media == f"{main}/*":
            specificity = 1
        elif media == "*/*":
            specificity = 0
        else:
            continue
        if specificity > found[1]:
            found = (quality, specificity)
    return found[0], found[1]


def error_body(code: str, message: str, **extensions: Any) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}


def format_error(error: GraphQLError) -> dict[str, Any]:
    """A GraphQL error as JSON; unexpected exceptions become a generic INTERNAL_SERVER_ERROR."""
    formatted: dict[str, Any] = dict(error.formatted)
    extensions = dict(formatted.get("extensions") or {})
    if "code" not in extensions:
        original = error.original_error
        if original is not None and not isinstance(original, GraphQLError):
            log.error("resolver failed: %s", type(original).__name__, exc_info=original)
            formatted["message"] = "internal server error"
        extensions["code"] = codes.INTERNAL_SERVER_ERROR
    formatted["extensions"] = extensions
    return formatted


class GraphQLEndpoint:
    """The ``/graphql`` route: one instance per emulator."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.schema = executable_schema()
        self.costs = CostEstimator(self.schema, state.config.limits.list_factor)

    def _respond(
        self,
        body: dict[str, Any],
        status: int,
        media_type: str,
        headers: dict[str, str] | None = None,
    ) -> Response:
        self.state.stats.record_status(status)
        return Response(
            json.dumps(body, separators=(",", ":")).encode(),
            status_code=status,
            media_type=media_type,
            headers=headers,
        )

    def _refused(self, refused: DocumentRefused, media_type: str) -> Response:
        body = error_body(refused.code, refused.message, **refused.extensions)
        return self._respond(body, 400, media_type)

    def _authorised(self, request: Request) -> bool:
        given = request.headers.get("x-api-key")
        if not given:
            return False
        # Constant time against every configured key; the key itself is never logged.
        matches = [
            hmac.compare_digest(given.encode(), k.encode()) for k in self.state.config.api_keys
        ]
        return any(matches)

    async def handle(self, request: Request) -> Response:
        state = self.state
        state.stats.count_request()
        if request.method not in {"GET", "POST"}:
            return self._respond(
                error_body(codes.METHOD_NOT_ALLOWED, "use POST (or GET for queries)"),
                405,
                APPLICATION_JSON,
                {"allow": "GET, POST"},
            )
        media_type = negotiate(request.headers.get("accept"))
        if media_type is None:
            return self._respond(
                error_body(
                    codes.NOT_ACCEPTABLE,
                    f"accept {GRAPHQL_RESPONSE_JSON} or {APPLICATION_JSON}",
                ),
                406,
                APPLICATION_JSON,
            )
        if not self._authorised(request):
            return self._respond(
                error_body(codes.UNAUTHENTICATED, "missing or invalid x-api-key header"),
                401,
                media_type,
            )
        params = await self._read_params(request, media_type)
        if isinstance(params, Response):
            return params
        query, variables, operation_name = params
        return await self._run(request, media_type, query, variables, operation_name)

    async def _read_params(
        self, request: Request, media_type: str
    ) -> tuple[str, dict[str, Any], str | None] | Response:
        def bad(message: str, code: str = codes.BAD_REQUEST, status: int = 400) -> Response:
            return self._respond(error_body(code, message), status, media_type)

        max_bytes = self.state.config.limits.max_body_bytes
        too_large = (
            f"the request is larger than {max_bytes} bytes; send smaller documents "
            "(fewer aliases) or upload files with createSignedUploadUrl"
        )
        raw: Any
        if request.method == "GET":
            if len(request.scope.get("query_string", b"")) > max_bytes:
                return bad(too_large, codes.PAYLOAD_TOO_LARGE, 413)
            raw = dict(request.query_params)
            if "variables" in raw:
                try:
                    raw["variables"] = json.loads(raw["variables"])
                except (ValueError, RecursionError):
                    return bad("the variables parameter is not JSON (or nested too deeply)")
        else:
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != APPLICATION_JSON:
                return bad(
                    "POST a JSON body with Content-Type: application/json",
                    codes.UNSUPPORTED_MEDIA_TYPE,
                    415,
                )
            body = await _read_capped(request, max_bytes)
            if body is None:
                return bad(too_large, codes.PAYLOAD_TOO_LARGE, 413)
            try:
                raw = json.loads(body)
            except (ValueError, RecursionError):
                return bad("the request body is not valid JSON (or nested too deeply)")
            if isinstance(raw, list):
                return bad("batched requests are not supported; use aliases in one document")
        if not isinstance(raw, dict):
            return bad("the request body must be a JSON object")
        query = raw.get("query")
        variables = raw.get("variables") or {}
        operation_name = raw.get("operationName")
        if not isinstance(query, str) or not query.strip():
            return bad("the request has no query")
        if not isinstance(variables, dict):
            return bad("variables must be a JSON object")
        if operation_name is not None and not isinstance(operation_name, str):
            return bad("operationName must be a string")
        return query, variables, operation_name

    async def _run(
        self,
        request: Request,
        media_type: str,
        query: str,
        variables: dict[str, Any],
        operation_name: str | None,
    ) -> Response:
        """Admit the document, apply an injected fault, execute; one answer."""
        admitted = self._admit(request, media_type, query, operation_name)
        if isinstance(admitted, Response):
            return admitted
        decision, faulted = await self._inject_fault(request, media_type, admitted)
        if faulted is not None:
            return faulted
        body = await self._execute(request, media_type, admitted, variables, operation_name)
        if isinstance(body, Response):
            return body
        if decision.kind == "lost_response":
            self.state.stats.record_fault("lost_response")
            self.state.stats.record_status("dropped")
            payload = json.dumps(body, separators=(",", ":")).encode()
            return TruncatedResponse(payload, 200, media_type=media_type)
        return self._respond(body, 200, media_type)

    def _request_error(self, errors: list[GraphQLError], code: str, media_type: str) -> Response:
        body = {"errors": [format_error(_with_code(e, code)) for e in errors]}
        return self._respond(body, 400, media_type)

    def _admit(
        self, request: Request, media_type: str, query: str, operation_name: str | None
    ) -> _Admitted | Response:
        """Parse, check the limits cheapest first, validate: the document or the refusal."""
        state = self.state
        limits = state.config.limits
        document = self._parse(query, media_type)
        if isinstance(document, Response):
            return document
        operation = get_operation_ast(document, operation_name)
        name = operation_name or (operation.name.value if operation and operation.name else None)
        try:
            check_shape(measure(document), limits)
            roots = root_fields(document, operation)
        except DocumentRefused as refused:
            state.stats.count_operation(name, {})
            return self._refused(refused, media_type)
        state.stats.count_operation(name, roots.names)
        try:
            check_root_fields(roots, limits, state.config.max_root_fields)
        except DocumentRefused as refused:
            return self._refused(refused, media_type)

        errors = validate(self.schema, document)
        if errors:
            return self._request_error(errors, codes.GRAPHQL_VALIDATION_FAILED, media_type)
        if operation is None:
            return self._respond(
                error_body(codes.BAD_REQUEST, "name the operation to run (operationName)"),
                400,
                media_type,
            )
        if request.method == "GET" and operation.operation != OperationType.QUERY:
            return self._respond(
                error_body(codes.METHOD_NOT_ALLOWED, "mutations must be sent with POST"),
                405,
                media_type,
                {"allow": "POST"},
            )
        try:
            self.costs.list_factor = limits.list_factor  # limits may change at run time
            check_cost(self.costs.operation(document, operation), limits)
        except DocumentRefused as refused:
            return self._refused(refused, media_type)
        return _Admitted(document, operation, name, list(roots.names))

    def _parse(self, query: str, media_type: str) -> DocumentNode | Response:
        limits = self.state.config.limits
        try:
            return parse(query, max_tokens=limits.max_tokens)
        except GraphQLError as exc:
            # graphql-core's message when it stops at max_tokens (it has no error class).
            if limits.max_tokens is not None and "Document contains more than" in exc.message:
                return self._refused(
                    DocumentRefused(
                        codes.QUERY_TOO_COMPLEX,
                        f"this document has more than {limits.max_tokens} tokens; "
                        "send smaller documents (fewer aliases)",
                        measure="tokens",
                        maximum=limits.max_tokens,
                    ),
                    media_type,
                )
            return self._request_error([exc], codes.GRAPHQL_PARSE_FAILED, media_type)

    async def _inject_fault(
        self, request: Request, media_type: str, admitted: _Admitted
    ) -> tuple[FaultDecision, Response | None]:
        """The fault drawn for this request (POSTs only); a response when it answers instead."""
        state = self.state
        decision = NO_FAULT
        if request.method == "POST":
            decision = state.injector.decide(state.faults, admitted.name, admitted.root_names)
        if decision.latency:
            state.stats.record_fault("latency")
            await asyncio.sleep(decision.latency)
        if decision.kind == "http_500":
            state.stats.record_fault("http_500")
            body = error_body(codes.INTERNAL_SERVER_ERROR, "internal server error (injected fault)")
            return decision, self._respond(body, 500, media_type)
        if decision.kind == "http_429":
            state.stats.record_fault("http_429")
            retry_after = str(state.faults.retry_after)
            body = error_body(codes.RATE_LIMITED, "too many requests (injected fault)")
            return decision, self._respond(body, 429, media_type, {"retry-after": retry_after})
        if decision.kind == "drop":
            state.stats.record_fault("drop")
            state.stats.record_status("dropped")
            dropped = TruncatedResponse(b'{"data":{"dropped":true}}', 200, media_type=media_type)
            return decision, dropped
        return decision, None

    async def _execute(
        self,
        request: Request,
        media_type: str,
        admitted: _Admitted,
        variables: dict[str, Any],
        operation_name: str | None,
    ) -> dict[str, Any] | Response:
        """Coerce the variables and execute: the response body, or a 400 for bad variables."""
        try:
            coerced = get_variable_values(
                self.schema, admitted.operation.variable_definitions or [], variables
            )
        except RecursionError:
            return self._respond(
                error_body(codes.BAD_USER_INPUT, "the variables are nested too deeply"),
                400,
                media_type,
            )
        if isinstance(coerced, list):
            return self._request_error(coerced, codes.BAD_USER_INPUT, media_type)

        result = execute(
            self.schema,
            admitted.document,
            context_value={"state": self.state, "request": request},
            variable_values=variables,
            operation_name=operation_name,
        )
        if inspect.isawaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        if result.errors:
            return {"errors": [format_error(e) for e in result.errors], "data": result.data}
        return {"data": result.data}


async def _read_capped(request: Request, max_bytes: int) -> bytes | None:
    """The body, or None as soon as it is known to exceed ``max_bytes`` (never read whole)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _with_code(error: GraphQLError, code: str) -> GraphQLError:
    if error.extensions and "code" in error.extensions:
        return error
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions={**(error.extensions or {}), "code": code},
    )
