"""Retries that never pay twice: one retry helper, and one place that decides "maybe applied".

Backoff with jitter, ``Retry-After`` honoured up to a cap; a request that may have mutated is
resent only when it provably did not run. The policy and its reasons: docs/DESIGN.md.
"""

from __future__ import annotations

import email.utils
import functools
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
)

from viesus._errors import ServerError
from viesus._redact import redact_url

log = logging.getLogger("viesus.http")
T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
MAY_MUTATE: Final = "viesus_may_mutate"
"""Request extension: ``True`` if the request may change state at the service, ``False`` if
it is known to be a read. Set by the facade on every GraphQL request it sends."""
NO_RETRY: Final = "viesus_no_retry"
"""Request extension: the caller retries this request itself (PUTs and downloads)."""
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; every number is tunable (users asked: openai #1102)."""

    max_attempts: int = 5
    base: float = 0.5
    cap: float = 8.0
    max_retry_after: float = 120.0

    def backoff(self, retry: int) -> float:
        """Delay before retry number ``retry`` (0-based): exponential, capped, full jitter."""
        limit = min(self.cap, self.base * 2**retry)
        return random.uniform(limit / 2, limit)  # noqa: S311 - jitter, not cryptography


class AmbiguousRequest(ServerError):
    """A request that may have changed something may or may not have been applied.

    ``status_code`` is set when the server answered (e.g. 500), else ``None`` (dropped
    connection, read timeout). Never resend it blindly: reconcile by reading.
    """

    def __init__(self, operation: str, reason: str, status_code: int | None = None) -> None:
        super().__init__(
            f"{operation}: the answer was lost ({reason}); it may have been applied", status_code
        )
        self.operation = operation
        self.reason = reason


REFUSED_BEFORE_RUNNING: Final = frozenset(
    {
        "BAD_REQUEST",
        "BAD_USER_INPUT",
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "TOO_MANY_ROOT_FIELDS",
        "UNAUTHENTICATED",
        "UNAUTHORIZED",
        "FORBIDDEN",
        "RATE_LIMITED",
        "NOT_FOUND",
        "UPLOAD_NOT_READY",
        "UPLOAD_NOT_RECEIVED",
        "INSUFFICIENT_CREDITS",
        "LIMIT_EXCEEDED",
        "UNSUPPORTED_FORMAT",
        "PDF_NOT_ANALYZED",
        "PDF_ANALYSIS_RUNNING",
    }
)
"""GraphQL error codes meaning "refused, nothing was created" [assumption: the documented
meanings of these codes, as the emulator implements them; the live service's full list is
not documented]."""


def may_have_run(error: BaseException) -> bool:
    """Could the mutation that failed with ``error`` have been applied anyway?

    ``False`` only with proof: the connection was never made, the request was refused as a
    whole with a 4xx (429 included), or the error code is in :data:`REFUSED_BEFORE_RUNNING`.
    Everything else, unknown errors included, is ``True``: fail closed.
    """
    if isinstance(error, AmbiguousRequest):
        return True
    if isinstance(error, NOT_SENT):
        return False
    code = getattr(error, "code", None)
    if isinstance(code, str):
        return code not in REFUSED_BEFORE_RUNNING
    status = getattr(error, "status_code", None)
    if isinstance(status, int) and 400 <= status < 500:
        return False
    from viesus._errors import AuthenticationError, InsufficientCredits, RateLimitError

    return not isinstance(error, AuthenticationError | InsufficientCredits | RateLimitError)


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


async def retrying(
    policy: RetryPolicy,
    attempt: Callable[[], Awaitable[T]],
    *,
    retry_on: Callable[[BaseException], bool],
    what: str,
    wait: Callable[[BaseException | None, int], float] | None = None,
) -> T:
    """Call ``attempt`` until it returns, at most ``policy.max_attempts`` times.

    An exception for which ``retry_on`` is true is retried after ``wait(exc, retry)`` seconds
    (default: the policy's jittered backoff); any other exception, or the last one, is raised.
    ``what`` names the operation in INFO logs (no URL query, header or body).
    """

    def delay(state: RetryCallState) -> float:
        retry = state.attempt_number - 1
        if wait is None:
            return policy.backoff(retry)
        outcome = state.outcome
        return wait(outcome.exception() if outcome is not None else None, retry)

    retrier = AsyncRetrying(
        stop=stop_after_attempt(policy.max_attempts),
        wait=delay,
        retry=retry_if_exception(retry_on),
        before_sleep=lambda state: _log_retry(state, what, policy),
        reraise=True,
    )
    return await retrier(attempt)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The server's requested delay, from ``retry-after-ms`` or ``Retry-After``."""
    millis = response.headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


def describe(request: httpx.Request) -> tuple[str, bool]:
    """(operation name for logs, may this request change something at the service?)."""
    marked = request.extensions.get(MAY_MUTATE)
    if request.method != "POST":
        shown = f"{request.method} {redact_url(str(request.url))}"
        return shown, bool(marked) if marked is not None else request.method not in _SAFE_METHODS
    try:
        body = json.loads(request.content) if request.content else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return "POST", True if marked is None else bool(marked)
    given = body.get("operationName")
    name: str | None = given if isinstance(given, str) and given else None
    if marked is not None:
        return name or "anonymous", bool(marked)
    query = body.get("query")
    kind = operation_type(query, name) if isinstance(query, str) else None
    return name or "anonymous", kind != "query"


@functools.lru_cache(maxsize=256)
def operation_type(document: str, operation_name: str | None) -> str | None:
    """``"query"``, ``"mutation"`` or ``"subscription"`` of the operation a GraphQL server
    would run for this document and ``operationName``; ``None`` if it cannot tell (does not
    parse, no such operation, several operations and no name). Parsed once per document."""
    from graphql import GraphQLSyntaxError, OperationDefinitionNode, parse

    try:
        parsed = parse(document, no_location=True)
    except (GraphQLSyntaxError, RecursionError):
        return None
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        return None
    return operations[0].operation.value


class RetryingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport with the retry policy above."""

    def __init__(self, inner: httpx.AsyncBaseTransport, policy: RetryPolicy) -> None:
        self._inner = inner
        self._policy = policy

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.extensions.get(NO_RETRY):
            return await self._inner.handle_async_request(request)
        operation, may_mutate = describe(request)

        def retry_on(exc: BaseException) -> bool:
            if isinstance(exc, _RetryableStatus):
                return not may_mutate or exc.response.status_code == 429
            if isinstance(exc, NOT_SENT):
                return True
            return isinstance(exc, httpx.TransportError) and not may_mutate

        async def attempt() -> httpx.Response:
            response = await self._inner.handle_async_request(request)
            if request.method == "POST":
                # Read GraphQL answers here, inside the policy: a connection dropped mid-body
                # is a lost answer, not a problem for the caller to meet later.
                await response.aread()
            if response.status_code in RETRYABLE_STATUS:
                await response.aread()
                raise _RetryableStatus(response)
            return response

        try:
            return await retrying(
                self._policy, attempt, retry_on=retry_on, what=operation, wait=self._wait
            )
        except _RetryableStatus as exc:
            status = exc.response.status_code
            if may_mutate and status != 429:
                # Whatever Retry-After says: a 5xx does not prove the mutation did not run.
                raise AmbiguousRequest(operation, f"HTTP {status}", status) from None
            return exc.response
        except httpx.TransportError as exc:
            if may_mutate and not isinstance(exc, NOT_SENT):
                raise AmbiguousRequest(operation, type(exc).__name__) from None
            raise

    def _wait(self, exc: BaseException | None, retry: int) -> float:
        if isinstance(exc, _RetryableStatus):
            hinted = retry_after_seconds(exc.response)
            if hinted is not None:
                if hinted > self._policy.max_retry_after:
                    raise exc  # surfaced to the caller at once: no worker blocked for an hour
                return hinted
        return self._policy.backoff(retry)


def _log_retry(state: RetryCallState, operation: str, policy: RetryPolicy) -> None:
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    reason = str(exc) if isinstance(exc, _RetryableStatus) else type(exc).__name__
    delay = state.next_action.sleep if state.next_action is not None else 0.0
    log.info(
        "retry %d of %d for %s in %.2f s after %s",
        state.attempt_number,
        policy.max_attempts - 1,
        operation,
        delay,
        reason,
    )
