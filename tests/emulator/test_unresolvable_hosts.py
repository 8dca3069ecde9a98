"""Hosts that do not resolve: the documented failure codes, and webhooks retried and counted.

The names are under ``.invalid`` (RFC 6761: never resolves), so nothing leaves the machine
except, at most, a lookup the resolver answers with NXDOMAIN.
"""

from __future__ import annotations

import httpcore
import pytest

from tests.emulator.conftest import Api, jpeg
from viesus_emulator import Emulator
from viesus_emulator._url_policy import GuardedBackend, UrlPolicy

NOWHERE = "no-such-host.invalid"
URL_UPLOAD = (
    "mutation($u: String!) { createUploadFromUrl(input: {url: $u}) { id status metadata } }"
)


async def test_the_guarded_backend_reports_a_failed_lookup_as_a_connect_error() -> None:
    backend = GuardedBackend(UrlPolicy.for_server("127.0.0.1", None))
    with pytest.raises(httpcore.ConnectError, match="does not resolve"):
        await backend.connect_tcp(NOWHERE, 80, timeout=5)


async def test_url_upload_from_an_unresolvable_host_is_fetch_failed(api: Api) -> None:
    body = await api.gql(URL_UPLOAD, {"u": f"http://{NOWHERE}/photo.jpg"})
    assert "errors" not in body, body
    upload = body["data"]["createUploadFromUrl"]
    assert upload["status"] == "UPLOAD_FAILED"
    assert upload["metadata"]["error"]["code"] == "FETCH_FAILED"


async def test_background_on_an_unresolvable_host_is_background_fetch_failed(api: Api) -> None:
    upload = await api.signed_upload(jpeg(80, 80))
    params = {
        "backgroundRemovalMode": "REPLACE",
        "backgroundRemovalReplaceImageUrl": f"http://{NOWHERE}/bg.jpg",
    }
    done = await api.wait((await api.enhance(upload["id"], params))["id"])
    assert (done["status"], done["errorCode"]) == ("ERROR", "BACKGROUND_FETCH_FAILED")


async def test_webhook_to_an_unresolvable_host_is_retried_and_counted(
    api: Api, emu: Emulator
) -> None:
    await api.data(
        "mutation($u: String!) { createWebhook(input: {url: $u}) { id } }",
        {"u": f"http://{NOWHERE}/hook"},
    )
    await api.signed_upload(jpeg())
    await emu.drain()
    stats = emu.stats()["webhooks"]
    attempts = 1 + len(emu.config.webhook_retry_delays)
    assert (stats["attempts"], stats["failed"], stats["succeeded"]) == (attempts, 1, 0)
    (delivery,) = emu.state.dispatcher.deliveries
    assert (delivery.done, delivery.status_codes) == (True, [None] * attempts)
