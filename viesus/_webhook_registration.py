"""Registering webhooks over the generated client, aware of the 5-webhook limit.

The service shows a webhook's secret once, in the ``createWebhook`` answer, and an account
holds at most ``MAX_WEBHOOKS`` [docs].
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from pydantic import SecretStr

from viesus._errors import ServerError, WebhookAlreadyRegistered, WebhookLimitReached
from viesus._redact import redact_url
from viesus_client import ViesusApiClient
from viesus_client.input_types import CreateWebhookInput

__all__ = ["MAX_WEBHOOKS", "RegisteredWebhook", "register_webhook", "remove_webhook"]

logger = logging.getLogger("viesus._webhooks")

MAX_WEBHOOKS: Final = 5  # per account [docs]


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
