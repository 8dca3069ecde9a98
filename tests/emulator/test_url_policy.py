"""URL policy of the emulator's own requests (URL uploads, backgrounds, webhooks): no SSRF.

The tests run on 127.0.0.1, where private addresses stay allowed by default; the refusals are
tested with a policy built for a server bound to a public interface (nothing is bound to
one) and with ``allow_private_urls=False`` on a loopback emulator.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest

from tests.emulator.conftest import FAST, Api, jpeg
from tests.emulator.peer import Peer
from viesus_emulator import Emulator, EmulatorConfig
from viesus_emulator._store import WebhookRecord, utcnow
from viesus_emulator._url_policy import GuardedBackend, UrlPolicy, UrlRefused

PUBLIC_BIND = "0.0.0.0"

NOT_PUBLIC = [
    "127.0.0.1",
    "127.8.9.10",
    "::1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.1.1",
    "100.64.0.1",
    "0.0.0.0",
    "::ffff:127.0.0.1",
    "fd12:3456::1",
    "fe80::1",
    "224.0.0.1",
    "192.0.2.1",
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_a_publicly_bound_server_refuses_non_public_addresses(address: str) -> None:
    policy = UrlPolicy.for_server(PUBLIC_BIND, None)
    assert policy.address_refusal(ipaddress.ip_address(address)) is not None
    with pytest.raises(UrlRefused):
        policy.check_url(f"http://{'[' + address + ']' if ':' in address else address}:80/x")


def test_public_addresses_pass_and_names_wait_for_resolution() -> None:
    policy = UrlPolicy.for_server(PUBLIC_BIND, None)
    assert policy.address_refusal(ipaddress.ip_address("93.184.215.14")) is None
    assert policy.address_refusal(ipaddress.ip_address("2606:4700::6810:84e5")) is None
    policy.check_url("https://images.example.com/a.jpg")  # resolved at connection time
    with pytest.raises(UrlRefused, match=r"127\.0\.0\.1 is not a public address"):
        policy.check_url("http://localhost:8000/")


@pytest.mark.parametrize("url", ["ftp://example.com/a.jpg", "file:///etc/passwd", "gopher://x/"])
def test_only_http_and_https(url: str) -> None:
    with pytest.raises(UrlRefused, match="only http and https"):
        UrlPolicy.for_server("127.0.0.1", True).check_url(url)


def test_loopback_bound_server_allows_private_but_not_metadata() -> None:
    policy = UrlPolicy.for_server("127.0.0.1", None)
    assert policy.address_refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.address_refusal(ipaddress.ip_address("10.0.0.1")) is None
    reason = policy.address_refusal(ipaddress.ip_address("169.254.169.254"))
    assert reason is not None
    assert "metadata" in reason
    assert UrlPolicy.for_server("::1", None).allow_private
    assert UrlPolicy.for_server("localhost", None).allow_private
    assert not UrlPolicy.for_server("192.168.1.5", None).allow_private


def test_allow_private_urls_overrides_both_ways() -> None:
    allowed = UrlPolicy.for_server(PUBLIC_BIND, True)
    assert allowed.address_refusal(ipaddress.ip_address("169.254.169.254")) is None
    refused = UrlPolicy.for_server("127.0.0.1", False)
    assert refused.address_refusal(ipaddress.ip_address("127.0.0.1")) is not None


@pytest.fixture
async def strict() -> AsyncIterator[Emulator]:
    """A loopback emulator told to behave like a publicly bound one."""
    async with Emulator(EmulatorConfig(**FAST, allow_private_urls=False)) as emu:  # type: ignore[arg-type]
        yield emu


UPLOAD_FROM_URL = (
    "mutation($u: String!) { createUploadFromUrl(input: {url: $u}) { id status metadata } }"
)


async def test_url_upload_to_a_private_address_fails_without_a_request(
    strict: Emulator, http: httpx.AsyncClient, peer: Peer
) -> None:
    api = Api(strict, http)
    url = peer.add_file("photo.jpg", jpeg())
    upload = (await api.data(UPLOAD_FROM_URL, {"u": url}))["createUploadFromUrl"]
    assert upload["status"] == "UPLOAD_FAILED"
    assert upload["metadata"]["error"]["code"] == "URL_NOT_ALLOWED"
    assert "--allow-private-urls" in upload["metadata"]["error"]["message"]
    assert peer.fetched == []  # refused before connecting


async def test_every_redirect_hop_is_checked(api: Api, peer: Peer) -> None:
    # Loopback-bound: the peer may be fetched, the metadata address it redirects to not.
    target = "http://169.254.169.254/latest/meta-data/"
    url = peer.url(f"redirect?to={quote(target, safe='')}")
    upload = (await api.data(UPLOAD_FROM_URL, {"u": url}))["createUploadFromUrl"]
    assert upload["status"] == "UPLOAD_FAILED"
    assert upload["metadata"]["error"]["code"] == "URL_NOT_ALLOWED"
    assert peer.fetched == ["/redirect"]


async def test_redirects_to_other_schemes_and_loops_fail(api: Api, peer: Peer) -> None:
    url = peer.url(f"redirect?to={quote('file:///etc/passwd', safe='')}")
    upload = (await api.data(UPLOAD_FROM_URL, {"u": url}))["createUploadFromUrl"]
    assert upload["metadata"]["error"]["code"] in {"URL_NOT_ALLOWED", "FETCH_FAILED"}
    loop = peer.url("redirect?to=" + quote(peer.url("redirect?to=/redirect"), safe=""))
    upload = (await api.data(UPLOAD_FROM_URL, {"u": loop}))["createUploadFromUrl"]
    assert upload["metadata"]["error"]["code"] == "FETCH_FAILED"
    assert len(peer.fetched) <= 2 + 1 + api.emu.config.max_redirects


async def test_redirects_within_policy_still_work(api: Api, peer: Peer) -> None:
    target = peer.add_file("photo.jpg", jpeg())
    url = peer.url(f"redirect?to={quote(target, safe='')}")
    upload = (await api.data(UPLOAD_FROM_URL, {"u": url}))["createUploadFromUrl"]
    assert upload["status"] == "UPLOAD_FINISHED"


async def test_webhook_to_a_literal_private_address_is_refused_at_registration(
    strict: Emulator, http: httpx.AsyncClient
) -> None:
    api = Api(strict, http)
    body = await api.gql(
        "mutation($u: String!) { createWebhook(input: {url: $u}) { id } }",
        {"u": "http://127.0.0.1:9/hook"},
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert strict.state.store.webhooks == {}


async def test_webhook_deliveries_follow_the_policy(
    strict: Emulator, http: httpx.AsyncClient, peer: Peer
) -> None:
    api = Api(strict, http)
    # Registered behind the policy's back (as if the address had changed since): the
    # delivery itself is refused, once, and nothing reaches the peer.
    hook = WebhookRecord(id="w1", url=peer.url("hooks/a"), created_at=utcnow(), secret="s")
    strict.state.store.webhooks[hook.id] = hook
    upload = await api.signed_upload(jpeg())
    assert upload["status"] == "UPLOAD_FINISHED"
    await strict.drain()
    (delivery,) = strict.state.dispatcher.deliveries
    assert not delivery.delivered
    assert delivery.attempts == 1  # a refusal is final: no retries
    assert peer.received == []


async def test_names_are_checked_after_resolution(peer: Peer) -> None:
    backend = GuardedBackend(UrlPolicy.for_server(PUBLIC_BIND, None))
    port = int(peer.base_url.rsplit(":", 1)[1])
    with pytest.raises(UrlRefused, match="not a public address"):
        await backend.connect_tcp("localhost", port, timeout=5)
    allowed = GuardedBackend(UrlPolicy.for_server("127.0.0.1", None))
    stream = await allowed.connect_tcp("localhost", port, timeout=5)
    await stream.aclose()


def test_fetch_hosts_limits_contacts_before_any_lookup() -> None:
    policy = UrlPolicy.for_server("127.0.0.1", None, frozenset({"127.0.0.1", "Images.Test"}))
    policy.check_url("http://127.0.0.1:8080/a.jpg")
    policy.check_url("https://images.test/a.jpg")
    with pytest.raises(UrlRefused, match="not one of the hosts"):
        policy.check_url("http://example.com/a.jpg")


async def test_fetch_hosts_refuses_in_the_connection_layer_too() -> None:
    backend = GuardedBackend(UrlPolicy.for_server("127.0.0.1", None, frozenset({"127.0.0.1"})))
    with pytest.raises(UrlRefused, match="not one of the hosts"):
        await backend.connect_tcp("no-such-host.invalid", 80, timeout=5)


async def test_background_images_follow_the_policy(
    strict: Emulator, http: httpx.AsyncClient, peer: Peer
) -> None:
    api = Api(strict, http)
    background = peer.add_file("bg.jpg", jpeg())
    upload = await api.signed_upload(jpeg())
    params = {"backgroundRemovalMode": "REPLACE", "backgroundRemovalReplaceImageUrl": background}
    job = await api.wait(str((await api.enhance(str(upload["id"]), params))["id"]))
    assert job["status"] == "ERROR"
    assert job["errorCode"] == "BACKGROUND_FETCH_FAILED"
    assert "not allowed" in str(strict.state.store.jobs[str(job["id"])].error_message)
    assert peer.fetched == []
    assert strict.stats()["credits"]["charged"] == 0


async def test_fetch_time_is_capped_for_the_whole_exchange(
    http: httpx.AsyncClient, peer: Peer
) -> None:
    config = EmulatorConfig(**FAST, fetch_timeout=0.5)  # type: ignore[arg-type]
    async with Emulator(config) as emu:
        api = Api(emu, http)
        upload = (await api.data(UPLOAD_FROM_URL, {"u": peer.url("trickle")}))[
            "createUploadFromUrl"
        ]
    assert upload["status"] == "UPLOAD_FAILED"
    assert upload["metadata"]["error"] == {
        "code": "FETCH_FAILED",
        "message": "the URL could not be fetched within 0.5 s",
    }
