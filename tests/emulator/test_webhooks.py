"""Webhook deliveries: signed with HMAC-SHA256 over the raw body, retried on failure."""

from __future__ import annotations

import hashlib
import hmac
import json

from syrupy.assertion import SnapshotAssertion

from tests.emulator.conftest import Api, jpeg, normalize
from tests.emulator.peer import Peer, Received
from viesus_emulator import Emulator


def verified(received: Received, secret: str) -> dict[str, object]:
    """Check the signature the way an independent receiver would, then parse."""
    expected = hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(received.headers["x-viesus-cloud-signature"], expected)
    assert received.headers["content-type"] == "application/json"
    event: dict[str, object] = json.loads(received.body)
    return event


async def register(api: Api, url: str) -> str:
    data = await api.data(
        "mutation($u: String!) { createWebhook(input: {url: $u}) { secret } }", {"u": url}
    )
    secret: str = data["createWebhook"]["secret"]
    return secret


async def test_events_are_signed_and_shaped(
    api: Api, emu: Emulator, peer: Peer, snapshot: SnapshotAssertion
) -> None:
    secret = await register(api, peer.url("hooks/a"))
    upload = await api.signed_upload(jpeg(), filename="cat.jpg")
    job = await api.enhance(upload["id"], {"noiseReductionProfilingStrength": 0.3})
    await api.wait(job["id"])
    received = await peer.wait_for(2)
    events = [verified(r, secret) for r in received]
    assert [e["event"] for e in events] == [
        "upload.sub_status_update",
        "enhanced_image.status_update",
    ]
    assert events[0]["id"] != events[1]["id"]
    job_data = events[1]["data"]
    assert isinstance(job_data, dict)
    assert job_data == {**(await api.job(job["id"])), "fullUrl": job_data["fullUrl"]}
    assert normalize(events) == snapshot
    await emu.drain()
    assert emu.stats()["webhooks"] == {
        "registered": 1,
        "events": 2,
        "deliveries": 2,
        "attempts": 2,
        "succeeded": 2,
        "failed": 0,
    }


async def test_failed_job_event(api: Api, emu: Emulator, peer: Peer) -> None:
    secret = await register(api, peer.url("hooks/b"))
    upload = await api.signed_upload(jpeg(100, 60))
    await api.enhance(upload["id"], {"upscalingFactor": "X4", "upscalingCustomWidth": 500})
    received = await peer.wait_for(2)
    data = verified(received[1], secret)["data"]
    assert data["status"] == "ERROR"  # type: ignore[index]
    assert data["errorCode"] == "UPSCALING_LIMIT_EXCEEDED"  # type: ignore[index]


async def test_delivery_is_retried_after_500(api: Api, emu: Emulator, peer: Peer) -> None:
    secret = await register(api, peer.url("hooks/c"))
    peer.hook_statuses.extend([500, 503])
    await api.signed_upload(jpeg())
    received = await peer.wait_for(3)
    bodies = {r.body for r in received}
    assert len(bodies) == 1, "every attempt resends the same bytes"
    verified(received[-1], secret)
    await emu.drain()
    delivery = emu.state.dispatcher.deliveries[0]
    assert (delivery.attempts, delivery.status_codes, delivery.delivered) == (
        3,
        [500, 503, 200],
        True,
    )


async def test_delivery_gives_up_after_the_configured_attempts(api: Api, emu: Emulator) -> None:
    await register(api, "http://127.0.0.1:9/unreachable")
    await api.signed_upload(jpeg())
    await emu.drain()
    stats = emu.stats()["webhooks"]
    assert (stats["attempts"], stats["failed"], stats["succeeded"]) == (3, 1, 0)


async def test_delivery_to_a_url_httpx_refuses_fails_cleanly(api: Api, emu: Emulator) -> None:
    await register(api, "http://xn--/hook")
    await api.signed_upload(jpeg())
    await emu.drain()
    stats = emu.stats()["webhooks"]
    assert (stats["attempts"], stats["failed"], stats["succeeded"]) == (3, 1, 0)
    delivery = emu.state.dispatcher.deliveries[0]
    assert (delivery.done, delivery.status_codes) == (True, [None, None, None])


async def test_every_webhook_gets_every_event(api: Api, emu: Emulator, peer: Peer) -> None:
    secrets = [await register(api, peer.url(f"hooks/{n}")) for n in range(3)]
    await api.signed_upload(jpeg())
    received = await peer.wait_for(3)
    by_path = {r.path: r for r in received}
    for n, secret in enumerate(secrets):
        verified(by_path[f"/hooks/{n}"], secret)
