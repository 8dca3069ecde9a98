"""Receive VIESUS webhooks safely, and register them over the generated client.

VIESUS signs each delivery with ``x-viesus-cloud-signature`` = lowercase hex of
HMAC-SHA256(webhook secret, raw request body) [docs]. There is no timestamp, so a replay can
only be recognised by the event ``id``: the receiver remembers recent ids and acknowledges a
repeat without acting on it. The name of the "enhancement finished" event is not documented,
so events are told apart by the shape of ``data`` (``id`` + ``status``), never by name.

Secrets never appear in a repr, a log line or an exception message; neither do signatures or
bodies (a body may hold a signed download URL).

- ``verify_signature`` / ``unwrap``: the primitives (openai-python's ``webhooks.unwrap`` shape).
- ``WebhookReceiver``: a plain ASGI app (mount it in Starlette/FastAPI or serve it directly).
- ``WebhookListener``: runs a receiver with uvicorn on a free local port, for scripts and the CLI.
- ``register_webhook`` / ``remove_webhook``: registration, aware of the 5-webhook limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from viesus._errors import (
    ServerError,
    WebhookAlreadyRegistered,
    WebhookLimitReached,
    WebhookPayloadError,
    WebhookSignatureError,
)
from viesus._redact import redact_url
from viesus._serving import Serving
from viesus_client import ViesusApiClient
from viesus_client.enums import EnhancedImageStatus, UploadStatus
from viesus_client.fragments import EnhancedImageFields, UploadFields
from viesus_client.input_types import CreateWebhookInput

__all__ = [
    "MAX_WEBHOOKS",
    "SIGNATURE_HEADER",
    "RegisteredWebhook",
    "WebhookEvent",
    "WebhookListener",
    "WebhookReceiver",
    "WebhookStats",
    "compute_signature",
    "parse_event",
    "register_webhook",
    "remove_webhook",
    "unwrap",
    "verify_signature",
]

logger = logging.getLogger(__name__)

SIGNATURE_HEADER: Final = "x-viesus-cloud-signature"
MAX_WEBHOOKS: Final = 5  # per account [docs]
DEFAULT_MAX_BODY_BYTES: Final = 1 << 20  # an event is a small JSON object
DEFAULT_REMEMBERED_EVENTS: Final = 10_000

_HEX_SHA256: Final = re.compile(r"[0-9a-f]{64}")
# Keys only an Upload record has; with ``id`` + ``status`` they tell an upload from a job.
_UPLOAD_ONLY_KEYS: Final = frozenset({"subStatus", "filesize", "mimetype", "originalFilename"})
_UPLOAD_STATUSES: Final = frozenset(status.value for status in UploadStatus)
_JOB_STATUSES: Final = frozenset(status.value for status in EnhancedImageStatus)

# --- signatures ------------------------------------------------------------------------------


def compute_signature(body: bytes, secret: str) -> str:
    """The lowercase hex HMAC-SHA256 of ``body`` keyed with ``secret`` (what VIESUS sends)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, signature: str | None, secret: str) -> bool:
    """Whether ``signature`` signs the raw ``body`` with ``secret``; constant-time.

    Upper-case hex is accepted; anything that is not 64 hex digits is simply ``False``
    (its length and shape say nothing about the secret, so checking them first leaks nothing).
    """
    if not signature or not secret:
        return False
    candidate = signature.strip().lower()
    if not _HEX_SHA256.fullmatch(candidate):
        return False
    expected = compute_signature(body, secret)
    return hmac.compare_digest(expected.encode("ascii"), candidate.encode("ascii"))


# --- events ----------------------------------------------------------------------------------

DataKind = Literal["enhanced_image", "upload", "unknown"]
ModelT = TypeVar("ModelT", bound=BaseModel)


class WebhookEvent(BaseModel):
    """One delivery: ``{"id", "event", "data", "created"}`` [docs].

    ``data`` stays a plain dict, because the service may send fields or status values this
    client does not know; the ``as_*`` helpers give the typed view when there is one.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    event: str
    data: dict[str, Any]
    created: datetime

    @property
    def data_kind(self) -> DataKind:
        """What ``data`` is, by its shape (the job event's name is undocumented)."""
        if not isinstance(self.data.get("id"), str | int) or "status" not in self.data:
            return "unknown"
        if self.raw_status in _UPLOAD_STATUSES or _UPLOAD_ONLY_KEYS & self.data.keys():
            return "upload"
        return "enhanced_image"

    @property
    def raw_status(self) -> str | None:
        """``data.status`` as sent, known value or not (``None`` when absent)."""
        status = self.data.get("status")
        return None if status is None else str(status)

    @property
    def job_id(self) -> str | None:
        """The enhancement job's id when ``data`` is a job record, else ``None``."""
        return str(self.data["id"]) if self.data_kind == "enhanced_image" else None

    @property
    def job_status(self) -> EnhancedImageStatus | None:
        """The job's status when it is one this client knows; ``None`` for a new value."""
        if self.data_kind != "enhanced_image" or self.raw_status not in _JOB_STATUSES:
            return None
        return EnhancedImageStatus(self.raw_status)

    def as_enhanced_image(self) -> EnhancedImageFields | None:
        """``data`` as the generated job record, or ``None`` if it is not one or not parseable.

        An unknown status value gives ``None`` here (never an exception): use ``raw_status``.
        """
        if self.job_status is None:
            return None
        return _as_model(EnhancedImageFields, self.data)

    def as_upload(self) -> UploadFields | None:
        """``data`` as the generated upload record (``upload.sub_status_update``), or ``None``."""
        if self.data_kind != "upload":
            return None
        return _as_model(UploadFields, self.data)

    def __repr__(self) -> str:
        # ``data`` may hold a signed download URL: keep it out of reprs and logs.
        return (
            f"WebhookEvent(id={self.id!r}, event={self.event!r}, kind={self.data_kind!r}, "
            f"status={self.raw_status!r})"
        )

    __str__ = __repr__


def _as_model(model: type[ModelT], data: Mapping[str, Any]) -> ModelT | None:
    """Validate ``data``, treating absent optional fields as null (a payload may omit them)."""
    absent = {
        field.alias or name: None
        for name, field in model.model_fields.items()
        if name not in ("id", "status")
    }
    try:
        return model.model_validate({**absent, **data})
    except ValidationError:
        return None


def unwrap(body: bytes, headers: Mapping[str, str], secrets: str | Sequence[str]) -> WebhookEvent:
    """Verify a delivery against any of ``secrets`` (rotation) and parse it.

    ``headers`` may be any mapping (case is ignored). Raises ``WebhookSignatureError`` for a
    missing or wrong signature and ``WebhookPayloadError`` for a signed body that is not an
    event; both are ``WebhookVerificationError``, and their messages never contain the secret,
    the signature or the body.
    """
    candidates = _secret_list(secrets)
    signature = _header(headers, SIGNATURE_HEADER)
    if signature is None:
        raise WebhookSignatureError(f"missing {SIGNATURE_HEADER} header")
    if not any(verify_signature(body, signature, secret) for secret in candidates):
        raise WebhookSignatureError(
            f"{SIGNATURE_HEADER} does not match the body with any of the "
            f"{len(candidates)} configured secret(s)"
        )
    return parse_event(body)


def parse_event(body: bytes) -> WebhookEvent:
    """Parse an already verified body; ``WebhookPayloadError`` names the problem, not the data."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        problem = getattr(exc, "msg", "not UTF-8")
        raise WebhookPayloadError(f"webhook body is not JSON ({problem})") from None
    try:
        return WebhookEvent.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['type']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise WebhookPayloadError(f"webhook body is not an event ({problems})") from None


def _secret_list(secrets: str | Sequence[str], *, allow_none: bool = False) -> tuple[str, ...]:
    candidates = (secrets,) if isinstance(secrets, str) else tuple(secrets)
    candidates = tuple(secret for secret in candidates if secret)
    if not candidates and not allow_none:
        raise ValueError("no webhook secret given: pass the secret returned by createWebhook")
    return candidates


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    return next((v for k, v in headers.items() if k.lower() == name), None)


# --- the ASGI receiver -----------------------------------------------------------------------

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

    ``on_event`` may be sync or async and runs on the event loop: keep it quick (the facade's
    resolves waiting futures). Concurrent deliveries of one id run the callback once; the
    second waits for the first and is then a duplicate (or takes over if the first failed).
    """

    def __init__(
        self,
        secrets: str | Sequence[str],
        on_event: EventCallback,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        remembered_events: int = DEFAULT_REMEMBERED_EVENTS,
    ) -> None:
        self._secrets = _secret_list(secrets, allow_none=True)
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
        self._secrets = _secret_list(secrets, allow_none=True)

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


# --- the standalone listener -----------------------------------------------------------------


class WebhookListener:
    """Serve an ASGI app (a ``WebhookReceiver``) with uvicorn inside the current event loop.

    ``port=0`` picks a free port; ``url`` is read back from the bound socket. uvicorn's logging
    configuration is not applied (``log_config=None``), so the host application's stays.
    ``async with WebhookListener(receiver) as listener: register(listener.url)``.
    """

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/",
        startup_timeout: float = 10.0,
    ) -> None:
        self._app = app
        self._host = host
        self._port_wanted = port
        self._path = path if path.startswith("/") else "/" + path
        self._startup_timeout = startup_timeout
        self._serving: Serving | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The bound port (only while running)."""
        if self._port is None:
            raise RuntimeError("the webhook listener is not running")
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port/path`` to register (behind a tunnel, register the public URL)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}{self._path}"

    async def start(self) -> None:
        """Bind the socket and start serving; returns once requests are being accepted."""
        self._serving = await Serving.start(
            self._app,
            self._host,
            self._port_wanted,
            startup_timeout=self._startup_timeout,
            name="viesus-webhook-listener",
        )
        self._port = self._serving.port

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish, release the port."""
        serving, self._serving = self._serving, None
        self._port = None
        if serving is not None:
            await serving.stop(self._startup_timeout)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


# --- registration ----------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class RegisteredWebhook:
    """A webhook just created; ``secret`` is shown by the service this once, so save it now."""

    id: str
    url: str
    secret: SecretStr
    created_at: datetime | None = None

    def __repr__(self) -> str:
        return (
            f"RegisteredWebhook(id={self.id!r}, url={redact_url(self.url)!r}, "
            f"secret={self.secret!r})"
        )

    __str__ = __repr__


async def register_webhook(
    api: ViesusApiClient, url: str, *, replace: bool = False
) -> RegisteredWebhook:
    """Register ``url`` and return its id and (one-time) secret.

    The account holds at most ``MAX_WEBHOOKS``; when full, ``WebhookLimitReached`` lists the
    existing ids and (redacted) URLs to delete. A webhook for the same ``url`` raises
    ``WebhookAlreadyRegistered`` (a second one would deliver every event twice), unless
    ``replace=True``: then it is deleted and created again, since its secret cannot be read
    back. Nothing is deleted when the new one could not be created for lack of room.
    """
    existing = (await api.list_webhooks()).webhooks
    same_url = [webhook for webhook in existing if webhook.url == url]
    if same_url and not replace:
        raise WebhookAlreadyRegistered(same_url[0].id, redact_url(url))
    others = [webhook for webhook in existing if webhook.url != url]
    if len(others) >= MAX_WEBHOOKS:
        raise WebhookLimitReached(
            MAX_WEBHOOKS, tuple((webhook.id, redact_url(webhook.url)) for webhook in others)
        )
    for webhook in same_url:
        await api.delete_webhook(webhook.id)
        logger.info("deleted webhook %s to replace it", webhook.id)
    created = (await api.create_webhook(input=CreateWebhookInput(url=url))).create_webhook
    if not created.secret:
        raise ServerError(
            f"createWebhook returned webhook {created.id} without its secret; deliveries "
            "cannot be verified: remove it and register again"
        )
    logger.info("registered webhook %s for %s", created.id, redact_url(url))
    return RegisteredWebhook(
        id=created.id,
        url=created.url,
        secret=SecretStr(created.secret),
        created_at=created.created_at,
    )


async def remove_webhook(api: ViesusApiClient, webhook_id: str) -> bool:
    """Delete a webhook; ``False`` when no webhook has that id (nothing to do)."""
    if (await api.get_webhook(webhook_id)).webhook is None:
        return False
    removed = (await api.delete_webhook(webhook_id)).delete_webhook.success
    if removed:
        logger.info("removed webhook %s", webhook_id)
    return removed
