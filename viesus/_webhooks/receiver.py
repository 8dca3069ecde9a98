"""``WebhookReceiver``: a plain ASGI app that verifies, deduplicates and hands on deliveries.

Mount it in Starlette/FastAPI or serve it with :class:`~viesus._webhooks.listener.WebhookListener`.
It answers so that senders behave (200 stops retries, 5xx asks for one), and it does nothing
with an event but call ``on_event``: the client treats events as hints (see ``AsyncViesus``).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from viesus._errors import WebhookPayloadError, WebhookSignatureError
from viesus._webhooks.signature import WebhookEvent, secret_list, unwrap

__all__ = ["WebhookReceiver", "WebhookStats"]

logger = logging.getLogger("viesus._webhooks")

DEFAULT_MAX_BODY_BYTES: Final = 1 << 20  # an event is a small JSON object
DEFAULT_REMEMBERED_EVENTS: Final = 10_000


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
EventCallback = Callable[[WebhookEvent], Awaitable[None] | None]


@dataclass
class WebhookStats:
    """What a receiver did: ``rejected`` covers 400/401/405/413/503, ``failed`` callback errors."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0


class _RecentIds:
    """The ids of the last ``capacity`` accepted events (LRU): bounded replay protection."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        if event_id in self._ids:
            self._ids.move_to_end(str(event_id))
            return True
        return False

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self._capacity:
            self._ids.popitem(last=False)


class WebhookReceiver:
    """ASGI app: verify, parse, drop duplicates, call ``on_event``; answer so senders behave.

    ======================================== ====== ===========================================
    case                                     status why
    ======================================== ====== ===========================================
    accepted, callback done                  200
    duplicate event id (recently accepted)   200    the sender must stop retrying
    not POST                                 405
    body over ``max_body_bytes``             413    checked on Content-Length and while reading
    missing / wrong signature                401
    no secret set yet (``set_secrets``)      503    the sender retries once it is registered
    signed, but not a JSON event             400
    callback raised                          500    the id is not remembered: a retry is handled
    ======================================== ====== ===========================================

    ``on_event`` may be sync or async and runs on the event loop: keep it quick (the client's
    only marks the job for an immediate read). Concurrent deliveries of one id run the
    callback once; the second waits for the first and is then a duplicate (or takes over if
    the first failed).
    """

    def __init__(
        self,
        secrets: str | Sequence[str],
        on_event: EventCallback,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        remembered_events: int = DEFAULT_REMEMBERED_EVENTS,
    ) -> None:
        self._secrets = secret_list(secrets, allow_none=True)
        self._on_event = on_event
        self.max_body_bytes = max_body_bytes
        self._seen = _RecentIds(remembered_events)
        self._in_flight: dict[str, asyncio.Event] = {}
        self.stats = WebhookStats()

    def set_secrets(self, secrets: str | Sequence[str]) -> None:
        """Replace the accepted secrets (rotation: keep the old one until it stops arriving).

        A receiver may start with no secret, so that it listens before the webhook pointing at
        it is registered (the secret exists only after that); until then it answers 503.
        """
        self._secrets = secret_list(secrets, allow_none=True)

    def __repr__(self) -> str:
        return f"WebhookReceiver(secrets={len(self._secrets)}, stats={self.stats})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        status, message = await self._handle(scope, receive)
        await _respond(send, status, message)

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[int, str]:
        if scope.get("method") != "POST":
            return self._reject(405, "method not allowed: webhooks are POSTed")
        headers = {
            key.decode("latin-1").lower(): value.decode("latin-1")
            for key, value in scope.get("headers", [])
        }
        body = await self._read_body(headers, receive)
        if body is None:
            return self._reject(413, f"body larger than {self.max_body_bytes} bytes")
        if not self._secrets:
            return self._reject(503, "no webhook secret configured yet; retry later")
        try:
            event = unwrap(body, headers, self._secrets)
        except WebhookSignatureError as exc:
            return self._reject(401, str(exc))
        except WebhookPayloadError as exc:
            return self._reject(400, str(exc))
        return await self._deliver(event)

    async def _read_body(self, headers: Mapping[str, str], receive: Receive) -> bytes | None:
        """The whole body, or ``None`` as soon as it is known to exceed the cap."""
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _deliver(self, event: WebhookEvent) -> tuple[int, str]:
        while True:
            if event.id in self._seen:
                self.stats.duplicates += 1
                logger.debug("webhook event %s is a duplicate; acknowledged", event.id)
                return 200, "duplicate"
            running = self._in_flight.get(event.id)
            if running is None:
                break
            await running.wait()
        done = self._in_flight[event.id] = asyncio.Event()
        try:
            result = self._on_event(event)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            self.stats.failed += 1
            logger.error(
                "webhook callback failed for event %s (%s); answering 500 so it is retried",
                event.id,
                type(exc).__name__,
                exc_info=True,
            )
            return 500, "callback failed"
        finally:
            del self._in_flight[event.id]
            done.set()
        self._seen.add(event.id)
        self.stats.accepted += 1
        logger.debug("webhook event %s accepted (%s, %s)", event.id, event.event, event.data_kind)
        return 200, "accepted"

    def _reject(self, status: int, reason: str) -> tuple[int, str]:
        self.stats.rejected += 1
        logger.warning("webhook delivery rejected with %d: %s", status, reason)
        return status, reason


async def _respond(send: Send, status: int, message: str) -> None:
    key = "status" if status < 400 else "error"
    body = json.dumps({key: message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if status == 405:
        headers.append((b"allow", b"POST"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    """Nothing to start or stop; answer so servers that send lifespan events proceed."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
