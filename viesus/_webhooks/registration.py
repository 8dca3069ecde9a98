"""Registering webhooks over the generated client, aware of the 5-webhook limit.

A lost ``createWebhook`` answer is reconciled by listing; a crashed listener's tagged webhook is
deleted by the next start on the same machine (ARCHITECTURE-notes-r2.md). Every failure is a
``ViesusError``; messages name ids and redacted URLs, never secrets.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from viesus._api_errors import map_error
from viesus._errors import (
    AuthenticationError,
    GraphQLRequestError,
    RateLimitError,
    ServerError,
    ViesusError,
    WebhookAlreadyRegistered,
    WebhookLimitReached,
)
from viesus._redact import redact_url
from viesus_client import ViesusApiClient
from viesus_client.input_types import CreateWebhookInput

__all__ = [
    "DELETE_HINT",
    "MAX_WEBHOOKS",
    "ListenerTag",
    "RegisteredWebhook",
    "register_webhook",
    "remove_stale_listeners",
    "remove_webhook",
]

logger = logging.getLogger("viesus._webhooks")

MAX_WEBHOOKS: Final = 5  # per account [docs]
LISTENER_ROOT: Final = "viesus-listener"
# URLs that listeners of this process are using right now (never "left behind").
ACTIVE_LISTENER_URLS: set[str] = set()
DELETE_HINT: Final = "viesus webhooks delete {id}"
T = TypeVar("T")


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
    back. Nothing is deleted when the new one could not be created for lack of room. A lost
    answer is reconciled by listing (see the module docstring).
    """
    existing = (await _ask(api.list_webhooks())).webhooks
    same_url = [webhook for webhook in existing if webhook.url == url]
    if same_url and not replace:
        raise WebhookAlreadyRegistered(same_url[0].id, redact_url(url))
    others = [webhook for webhook in existing if webhook.url != url]
    if len(others) >= MAX_WEBHOOKS:
        raise WebhookLimitReached(
            MAX_WEBHOOKS, tuple((webhook.id, redact_url(webhook.url)) for webhook in others)
        )
    for webhook in same_url:
        await _ask(api.delete_webhook(webhook.id))
        logger.info("deleted webhook %s to replace it", webhook.id)
    try:
        return await _create(api, url)
    except ViesusError as error:
        if not _maybe_applied(error):
            raise
        logger.warning(
            "the answer to registering %s was lost (%s); listing webhooks to reconcile",
            redact_url(url),
            type(error).__name__,
        )
    await _delete_secretless(api, url)
    try:
        return await _create(api, url)
    except ViesusError as error:
        if not _maybe_applied(error):
            raise
        await _delete_secretless(api, url)
        raise ServerError(
            f"registering a webhook for {redact_url(url)} failed twice without an answer; "
            "any webhook it made was deleted again; try later"
        ) from None


async def remove_webhook(api: ViesusApiClient, webhook_id: str) -> bool:
    """Delete a webhook; ``False`` when no webhook has that id (nothing to do)."""
    if (await _ask(api.get_webhook(webhook_id))).webhook is None:
        return False
    removed = (await _ask(api.delete_webhook(webhook_id))).delete_webhook.success
    if removed:
        logger.info("removed webhook %s", webhook_id)
    return removed


async def _create(api: ViesusApiClient, url: str) -> RegisteredWebhook:
    created = (await _ask(api.create_webhook(input=CreateWebhookInput(url=url)))).create_webhook
    if not created.secret:
        raise ServerError(
            f"createWebhook returned webhook {created.id} without its secret; deliveries "
            f"cannot be verified: delete it ({DELETE_HINT.format(id=created.id)}) and "
            "register again"
        )
    logger.info("registered webhook %s for %s", created.id, redact_url(url))
    return RegisteredWebhook(
        id=created.id,
        url=created.url,
        secret=SecretStr(created.secret),
        created_at=created.created_at,
    )


async def _delete_secretless(api: ViesusApiClient, url: str) -> None:
    """Delete webhooks for ``url`` made by a create whose answer (and secret) was lost."""
    try:
        webhooks = (await _ask(api.list_webhooks())).webhooks
        for webhook in webhooks:
            if webhook.url == url:
                await _ask(api.delete_webhook(webhook.id))
                logger.info("deleted webhook %s: its secret was lost with the answer", webhook.id)
    except ViesusError as error:
        raise ServerError(
            f"registering a webhook for {redact_url(url)} lost its answer and the webhooks "
            f"could not be listed ({type(error).__name__}); a webhook may exist without a "
            "known secret: list them and delete it (viesus webhooks delete ID)"
        ) from None


def _maybe_applied(error: ViesusError) -> bool:
    """Whether the create may have happened although it failed: any lost or 5xx answer.

    A GraphQL error, a refused key and a 429 are answers from a server that did not create.
    """
    return not isinstance(error, GraphQLRequestError | AuthenticationError | RateLimitError)


async def _ask(awaitable: Awaitable[T]) -> T:
    """Await a generated-client call; whatever it raises comes out as a ``ViesusError``."""
    try:
        return await awaitable
    except ViesusError:
        raise
    except Exception as exc:
        raise map_error(exc) from None


# --- listeners' registrations ----------------------------------------------------------------


@dataclass(frozen=True)
class ListenerTag:
    """Who registered a listener's webhook: machine hash, listener name, process id, nonce."""

    machine: str
    name: str
    pid: int
    nonce: str

    @classmethod
    def for_this_process(cls, name: str) -> ListenerTag:
        if not name or not all(c.isalnum() or c in "-_" for c in name) or len(name) > 40:
            raise ValueError("a listener name is 1-40 letters, digits, '-' or '_'")
        return cls(machine_tag(), name, os.getpid(), secrets.token_hex(4))

    @property
    def path(self) -> str:
        return f"/{LISTENER_ROOT}/{self.machine}/{self.name}/{self.pid}/{self.nonce}"

    def url_on(self, base: str) -> str:
        """``base`` (the public URL) with this tag appended to its path."""
        parts = urlsplit(base)
        path = parts.path.rstrip("/") + self.path
        return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))

    @classmethod
    def of_url(cls, url: str) -> ListenerTag | None:
        """The tag in a registered URL, or ``None`` if it is not a listener's."""
        try:
            segments = urlsplit(url).path.split("/")
        except ValueError:
            return None
        if len(segments) < 6 or segments[-5] != LISTENER_ROOT or not segments[-2].isdigit():
            return None
        return cls(segments[-4], segments[-3], int(segments[-2]), segments[-1])


def machine_tag() -> str:
    """This machine and user, hashed (the host name is not published in a webhook URL)."""
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "")
    return hashlib.sha256(f"{socket.gethostname()}\0{user}".encode()).hexdigest()[:12]


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs on this machine. [assumption] POSIX signal 0; elsewhere "alive"
    (so nothing is deleted)."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


async def remove_stale_listeners(
    api: ViesusApiClient,
    tag: ListenerTag,
    *,
    alive: Callable[[int], bool] = process_alive,
) -> list[str]:
    """Delete webhooks that listeners named ``tag.name`` on this machine left behind.

    Left behind means: the same machine and name, and a process that is gone (or this very
    process, for URLs none of its listeners uses now). Returns the ids.
    """
    removed: list[str] = []
    for webhook in (await _ask(api.list_webhooks())).webhooks:
        other = ListenerTag.of_url(webhook.url)
        if other is None or (other.machine, other.name) != (tag.machine, tag.name):
            continue
        if other.pid == tag.pid:
            stale = webhook.url not in ACTIVE_LISTENER_URLS
        else:
            stale = not alive(other.pid)
        if stale:
            await _ask(api.delete_webhook(webhook.id))
            removed.append(webhook.id)
            logger.info(
                "deleted webhook %s left behind by listener process %d", webhook.id, other.pid
            )
    return removed
