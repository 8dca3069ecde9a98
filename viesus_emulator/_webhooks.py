"""Webhook deliveries: signed POSTs with retries, as background tasks of the server's loop."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from viesus_emulator._files import TRANSPORT_ERRORS
from viesus_emulator._stats import Stats
from viesus_emulator._store import Store, WebhookRecord, new_id, utcnow
from viesus_emulator._url_policy import UrlRefused
from viesus_emulator._views import to_json

log = logging.getLogger("viesus_emulator.webhooks")

SIGNATURE_HEADER = "x-viesus-cloud-signature"
#: A failed attempt: transport errors, or the attempt's whole time cap passed.
ATTEMPT_ERRORS: tuple[type[Exception], ...] = (*TRANSPORT_ERRORS, TimeoutError)
UPLOAD_EVENT = "upload.sub_status_update"
ENHANCED_IMAGE_EVENT = "enhanced_image.status_update"


def redact_url(url: str) -> str:
    """``url`` for a log line: scheme, host and path only (a webhook URL may carry a token)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        return "REDACTED"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    """One event sent to one webhook (kept for tests and debugging, never holds the secret)."""

    event_id: str
    event: str
    webhook_id: str
    attempts: int = 0
    status_codes: list[int | None] = field(default_factory=list)
    delivered: bool = False
    done: bool = False


class WebhookDispatcher:
    def __init__(
        self,
        store: Store,
        stats: Stats,
        http: httpx.AsyncClient,
        retry_delays: tuple[float, ...],
        timeout: float,
        max_records: int = 1000,
    ) -> None:
        self._store = store
        self._stats = stats
        self._http = http
        self.retry_delays = retry_delays
        self._timeout = timeout
        self._tasks: set[asyncio.Task[None]] = set()
        #: The latest ``max_records`` deliveries (older ones are dropped: bounded memory).
        self.deliveries: deque[Delivery] = deque(maxlen=max_records)

    def emit(self, event: str, data: dict[str, Any]) -> str:
        """Queue ``event`` for every registered webhook; returns the event id."""
        event_id = new_id()
        payload = {"id": event_id, "event": event, "data": to_json(data), "created": utcnow()}
        body = json.dumps(to_json(payload), separators=(",", ":")).encode()
        self._stats.webhook_events += 1
        for webhook in list(self._store.webhooks.values()):
            delivery = Delivery(event_id=event_id, event=event, webhook_id=webhook.id)
            self.deliveries.append(delivery)
            self._stats.webhook_deliveries += 1
            task = asyncio.create_task(self._deliver(webhook, body, delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return event_id

    async def _deliver(self, webhook: WebhookRecord, body: bytes, delivery: Delivery) -> None:
        headers = {
            "content-type": "application/json",
            "user-agent": "viesus-emulator-webhooks",
            SIGNATURE_HEADER: sign(webhook.secret, body),
        }
        delays = (0.0, *self.retry_delays)
        try:
            for attempt, delay in enumerate(delays, start=1):
                if delay:
                    await asyncio.sleep(delay)
                delivery.attempts = attempt
                self._stats.webhook_attempts += 1
                status: int | None = None
                try:
                    async with asyncio.timeout(self._timeout):  # the whole attempt
                        response = await self._http.post(
                            webhook.url, content=body, headers=headers, timeout=self._timeout
                        )
                    status = response.status_code
                except UrlRefused as exc:
                    # The policy will not change between attempts: give up at once.
                    delivery.status_codes.append(None)
                    log.warning(
                        "webhook %s to %s refused: %s",
                        delivery.event_id,
                        redact_url(webhook.url),
                        exc,
                    )
                    break
                except ATTEMPT_ERRORS as exc:
                    log.info(
                        "webhook %s attempt %d to %s failed: %s",
                        delivery.event_id,
                        attempt,
                        redact_url(webhook.url),
                        type(exc).__name__,
                    )
                delivery.status_codes.append(status)
                if status is not None and 200 <= status <= 299:
                    delivery.delivered = True
                    self._stats.webhook_succeeded += 1
                    return
            self._stats.webhook_failed += 1
            log.warning(
                "webhook %s to %s given up after %d attempts",
                delivery.event_id,
                redact_url(webhook.url),
                delivery.attempts,
            )
        finally:
            delivery.done = True

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait until every queued delivery has succeeded or given up."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel the deliveries still running (server shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
