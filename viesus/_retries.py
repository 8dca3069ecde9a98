"""HTTP retries that never pay twice, as an httpx transport under every request.

Policy (openai-python's, the most complete one in the field): retry 408, 425, 429 and 5xx
answers and connection/read failures, exponential backoff with full jitter between ``base`` and
``cap`` seconds, ``Retry-After`` (seconds or HTTP date, or ``retry-after-ms``) honoured up to
``max_retry_after``; beyond that the error is surfaced instead of blocking a worker.

The never-pay-twice rule lives here too. A GraphQL *mutation* is retried only when the failure
proves it was not applied: the connection was never made (``ConnectError``/``ConnectTimeout``/
``PoolTimeout``) or the server refused it with 429 before running it [inferred: rate limiting
happens before execution]. Any other failure of a mutation (a 5xx, a dropped connection after
the request was sent, a read timeout) is *ambiguous*: it is raised as :class:`AmbiguousRequest`
so the facade reconciles (looks up what was created) instead of creating again.

Built on tenacity (a well-kept retry library) rather than a hand-rolled loop. Attempts are
logged at INFO with the operation name and the reason only: no URL query, header or body.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from dataclasses import dataclass

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
)

from viesus._redact import redact_url

log = logging.getLogger("viesus.http")

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


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


class AmbiguousRequest(Exception):
    """A mutation may or may not have been applied: the answer was lost.

    ``status_code`` is set when the server answered (e.g. 500), else ``None`` (dropped
    connection, read timeout). The facade must reconcile, never blindly resend.
    """

    def __init__(self, operation: str, reason: str, status_code: int | None = None) -> None:
        super().__init__(f"{operation}: the answer was lost ({reason}); it may have been applied")
        self.operation = operation
        self.reason = reason
        self.status_code = status_code


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


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
    """(operation name, is_mutation) of a GraphQL POST; other requests count as queries."""
    if request.method != "POST" or not request.content:
        return f"{request.method} {redact_url(str(request.url))}", False
    try:
        body = json.loads(request.content)
    except ValueError:
        return "POST", True
    if not isinstance(body, dict):
        return "POST", True
    query = str(body.get("query") or "")
    name = body.get("operationName") or "anonymous"
    return str(name), query.lstrip().startswith("mutation")


class RetryingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport with the retry policy above."""

    def __init__(self, inner: httpx.AsyncBaseTransport, policy: RetryPolicy) -> None:
        self._inner = inner
        self._policy = policy

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        operation, unsafe = describe(request)
        if request.extensions.get("viesus_no_retry"):
            return await self._inner.handle_async_request(request)

        def should_retry(exc: BaseException) -> bool:
            if isinstance(exc, _RetryableStatus):
                return not unsafe or exc.response.status_code == 429
            if isinstance(exc, NOT_SENT):
                return True
            return isinstance(exc, httpx.TransportError) and not unsafe

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._policy.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(should_retry),
            before_sleep=lambda state: _log_retry(state, operation, self._policy),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._inner.handle_async_request(request)
                    if request.method == "POST":
                        # Read GraphQL answers here, inside the policy: a connection dropped
                        # mid-body is a lost answer, not a problem for the caller to meet later.
                        await response.aread()
                    if response.status_code in RETRYABLE_STATUS:
                        delay = retry_after_seconds(response)
                        if delay is not None and delay > self._policy.max_retry_after:
                            return response  # the caller surfaces it; no blocked worker
                        await response.aread()
                        raise _RetryableStatus(response)
                    return response
        except _RetryableStatus as exc:
            if unsafe and exc.response.status_code != 429:
                raise AmbiguousRequest(
                    operation, f"HTTP {exc.response.status_code}", exc.response.status_code
                ) from None
            return exc.response
        except httpx.TransportError as exc:
            if unsafe and not isinstance(exc, NOT_SENT):
                raise AmbiguousRequest(operation, type(exc).__name__) from None
            raise
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, _RetryableStatus):
            hinted = retry_after_seconds(exc.response)
            if hinted is not None:
                return min(hinted, self._policy.max_retry_after)
        return self._policy.backoff(state.attempt_number - 1)


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
