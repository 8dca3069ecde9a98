"""Webhooks: signatures, events, the ASGI receiver, the uvicorn listener and registration."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import importlib.resources
import json
import logging
from collections.abc import AsyncIterator, Iterator
from itertools import count
from typing import Any

import httpx
import pytest
from ariadne import MutationType, QueryType, make_executable_schema
from ariadne.asgi import GraphQL

from viesus._errors import (
    WebhookAlreadyRegistered,
    WebhookLimitReached,
    WebhookPayloadError,
    WebhookSignatureError,
    WebhookVerificationError,
)
from viesus._webhooks.listener import WebhookListener
from viesus._webhooks.receiver import WebhookReceiver
from viesus._webhooks.registration import (
    MAX_WEBHOOKS,
    RegisteredWebhook,
    register_webhook,
    remove_webhook,
)
from viesus._webhooks.signature import (
    SIGNATURE_HEADER,
    WebhookEvent,
    compute_signature,
    unwrap,
    verify_signature,
)
from viesus_client import ViesusApiClient
from viesus_client.enums import EnhancedImageStatus, UploadStatus

SECRET = "whsec_Test5ecretValue_d41d8cd98f00b204"
OLD_SECRET = "whsec_0ldSecretStillAccepted_1234567"
SIGNED_DOWNLOAD = "https://cdn.viesus.test/out/1.jpg?X-Amz-Signature=f00dfeed"


def job_event(
    event_id: str = "evt_1", status: str = "FINISHED", name: str = "enhanced_image.status_update"
) -> bytes:
    data = {
        "id": "job_42",
        "status": status,
        "fullUrl": SIGNED_DOWNLOAD if status == "FINISHED" else None,
        "errorCode": None,
    }
    payload = {"id": event_id, "event": name, "data": data, "created": "2025-05-15T00:00:12.000Z"}
    return json.dumps(payload).encode()


def upload_event(event_id: str = "evt_u") -> bytes:
    data = {
        "id": "up_7",
        "status": "UPLOAD_FINISHED",
        "subStatus": "METADATA_ANALYZED_SUCCESSFULLY",
        "filesize": 12000,
        "duration": 12000,
    }
    payload = {
        "id": event_id,
        "event": "upload.sub_status_update",
        "data": data,
        "created": "2025-05-15T00:00:12.000Z",
    }
    return json.dumps(payload).encode()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {SIGNATURE_HEADER: compute_signature(body, secret), "content-type": "application/json"}


def assert_no_secret(text: str, *extra: str) -> None:
    for forbidden in (SECRET, OLD_SECRET, *extra):
        assert forbidden not in text


# --- verify_signature ------------------------------------------------------------------------


def test_signature_is_lowercase_hex_hmac_sha256_of_the_raw_body() -> None:
    body = job_event()
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()

    assert compute_signature(body, SECRET) == expected
    assert verify_signature(body, expected, SECRET)
    assert verify_signature(body, expected.upper(), SECRET)
    assert verify_signature(body, f" {expected}\n", SECRET)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda body, sig: (body + b" ", sig), id="tampered body"),
        pytest.param(lambda body, sig: (body.replace(b"FINISHED", b"ERROR"), sig), id="changed"),
        pytest.param(lambda body, sig: (body, compute_signature(body, "wrong")), id="wrong secret"),
        pytest.param(lambda body, sig: (body, None), id="missing"),
        pytest.param(lambda body, sig: (body, ""), id="empty"),
        pytest.param(
            lambda body, sig: (body, base64.b64encode(bytes.fromhex(sig)).decode()), id="base64"
        ),
        pytest.param(lambda body, sig: (body, "sha256=" + sig), id="prefixed"),
        pytest.param(lambda body, sig: (body, sig[:-1]), id="short"),
        pytest.param(lambda body, sig: (body, sig[:-1] + "g"), id="not hex"),
        pytest.param(lambda body, sig: (body, sig[:-1] + "é"), id="non-ascii"),
    ],
)
def test_bad_signatures_are_rejected(tamper: Any) -> None:
    body = job_event()
    changed_body, signature = tamper(body, compute_signature(body, SECRET))

    assert not verify_signature(changed_body, signature, SECRET)


def test_empty_secret_never_verifies() -> None:
    body = job_event()
    assert not verify_signature(body, compute_signature(body, ""), "")


# --- unwrap and events -----------------------------------------------------------------------


def test_unwrap_returns_a_typed_event_decided_by_shape_not_name() -> None:
    body = job_event(name="some.undocumented.name")

    event = unwrap(body, signed(body), SECRET)

    assert (event.id, event.event, event.data_kind) == (
        "evt_1",
        "some.undocumented.name",
        "enhanced_image",
    )
    assert event.job_id == "job_42"
    assert event.job_status is EnhancedImageStatus.FINISHED
    image = event.as_enhanced_image()
    assert image is not None
    assert (image.id, image.status, image.full_url) == (
        "job_42",
        EnhancedImageStatus.FINISHED,
        SIGNED_DOWNLOAD,
    )
    assert image.viesus_duration is None  # absent from the payload: read as null
    assert event.as_upload() is None


def test_upload_event_is_read_as_the_generated_upload() -> None:
    body = upload_event()

    event = unwrap(body, signed(body), SECRET)

    assert event.data_kind == "upload"
    assert event.job_id is None
    upload = event.as_upload()
    assert upload is not None
    assert (upload.id, upload.status, upload.duration) == (
        "up_7",
        UploadStatus.UPLOAD_FINISHED,
        12000,
    )
    assert event.as_enhanced_image() is None


def test_unknown_status_is_surfaced_raw_without_crashing() -> None:
    body = job_event(status="PROCESSING")

    event = unwrap(body, signed(body), SECRET)

    assert event.data_kind == "enhanced_image"
    assert event.raw_status == "PROCESSING"
    assert event.job_status is None
    assert event.as_enhanced_image() is None
    assert event.job_id == "job_42"


def test_data_without_id_and_status_is_unknown() -> None:
    event = WebhookEvent(
        id="e", event="account.note", data={"text": "hi"}, created="2025-01-01T00:00:00Z"
    )

    assert event.data_kind == "unknown"
    assert event.raw_status is None
    assert (event.as_enhanced_image(), event.as_upload(), event.job_id) == (None, None, None)


def test_unwrap_accepts_any_of_several_secrets_for_rotation() -> None:
    body = job_event()

    event = unwrap(body, signed(body, OLD_SECRET), [SECRET, OLD_SECRET])

    assert event.id == "evt_1"


def test_unwrap_ignores_header_case() -> None:
    body = job_event()
    headers = {SIGNATURE_HEADER.upper(): compute_signature(body, SECRET)}

    assert unwrap(body, headers, SECRET).id == "evt_1"


@pytest.mark.parametrize(
    ("body", "headers", "error"),
    [
        pytest.param(job_event(), {}, WebhookSignatureError, id="missing header"),
        pytest.param(
            job_event() + b"\n", signed(job_event()), WebhookSignatureError, id="tampered"
        ),
        pytest.param(job_event(), signed(job_event(), "other"), WebhookSignatureError, id="wrong"),
        pytest.param(b"{not json", signed(b"{not json"), WebhookPayloadError, id="bad json"),
        pytest.param(b"\xff\xfe", signed(b"\xff\xfe"), WebhookPayloadError, id="not utf-8"),
        pytest.param(b'{"id": "x"}', signed(b'{"id": "x"}'), WebhookPayloadError, id="fields"),
        pytest.param(b"[1, 2]", signed(b"[1, 2]"), WebhookPayloadError, id="not an object"),
    ],
)
def test_unwrap_errors_never_contain_secret_signature_or_body(
    body: bytes, headers: dict[str, str], error: type[WebhookVerificationError]
) -> None:
    with pytest.raises(error) as caught:
        unwrap(body, headers, [SECRET, OLD_SECRET])

    message = str(caught.value)
    assert_no_secret(message)
    assert caught.value.__cause__ is None
    if headers.get(SIGNATURE_HEADER):
        assert headers[SIGNATURE_HEADER] not in message
    assert "job_42" not in message
    assert "f00dfeed" not in message
    assert body.decode(errors="replace") not in message


def test_unwrap_without_secrets_is_a_usage_error() -> None:
    body = job_event()
    with pytest.raises(ValueError, match="no webhook secret"):
        unwrap(body, signed(body), [])


def test_event_repr_holds_no_data() -> None:
    body = job_event()
    event = unwrap(body, signed(body), SECRET)

    assert "f00dfeed" not in repr(event)
    assert "f00dfeed" not in str(event)
    assert "evt_1" in repr(event)


# --- the ASGI receiver through httpx.ASGITransport -------------------------------------------


class Recorder:
    """An on_event callback that records events and can be told to fail."""

    def __init__(self) -> None:
        self.events: list[WebhookEvent] = []
        self.failures_left = 0

    def __call__(self, event: WebhookEvent) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("downstream unavailable")
        self.events.append(event)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def receiver(recorder: Recorder) -> WebhookReceiver:
    return WebhookReceiver([SECRET, OLD_SECRET], recorder, max_body_bytes=4096)


@pytest.fixture
async def client(receiver: WebhookReceiver) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=receiver)
    async with httpx.AsyncClient(transport=transport, base_url="http://hooks.test") as http:
        yield http


async def test_valid_delivery_is_accepted(
    client: httpx.AsyncClient, receiver: WebhookReceiver, recorder: Recorder
) -> None:
    body = job_event()

    response = await client.post("/viesus", content=body, headers=signed(body))

    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    assert [event.job_id for event in recorder.events] == ["job_42"]
    assert receiver.stats.accepted == 1


async def test_replayed_event_is_delivered_once(
    client: httpx.AsyncClient, receiver: WebhookReceiver, recorder: Recorder
) -> None:
    body = job_event("evt_replayed")

    answers = [await client.post("/", content=body, headers=signed(body)) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert answers[1].json() == {"status": "duplicate"}
    assert len(recorder.events) == 1
    assert (receiver.stats.accepted, receiver.stats.duplicates) == (1, 2)


async def test_same_id_signed_with_the_other_secret_is_still_a_duplicate(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    body = job_event("evt_rot")
    await client.post("/", content=body, headers=signed(body, SECRET))
    await client.post("/", content=body, headers=signed(body, OLD_SECRET))

    assert len(recorder.events) == 1


@pytest.mark.parametrize(
    ("headers_for", "body", "status"),
    [
        pytest.param(lambda b: {}, job_event(), 401, id="missing signature"),
        pytest.param(lambda b: signed(b, "wrong-secret"), job_event(), 401, id="wrong secret"),
        pytest.param(
            lambda b: {SIGNATURE_HEADER: compute_signature(b[:-1], SECRET)},
            job_event(),
            401,
            id="tampered body",
        ),
        pytest.param(
            lambda b: {SIGNATURE_HEADER: base64.b64encode(hashlib.sha256(b).digest()).decode()},
            job_event(),
            401,
            id="wrongly encoded",
        ),
        pytest.param(lambda b: signed(b), b'{"id": 1,', 400, id="malformed json"),
        pytest.param(lambda b: signed(b), b'{"event": "x"}', 400, id="not an event"),
    ],
)
async def test_rejections(
    client: httpx.AsyncClient,
    receiver: WebhookReceiver,
    recorder: Recorder,
    headers_for: Any,
    body: bytes,
    status: int,
) -> None:
    response = await client.post("/", content=body, headers=headers_for(body))

    assert response.status_code == status
    assert_no_secret(response.text)
    assert recorder.events == []
    assert receiver.stats.rejected == 1


async def test_non_post_is_405(client: httpx.AsyncClient, receiver: WebhookReceiver) -> None:
    response = await client.get("/")

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert receiver.stats.rejected == 1


async def test_oversized_body_is_413_before_verification(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    body = json.dumps(
        {"id": "big", "event": "x", "data": {"pad": "x" * 5000}, "created": "2025-01-01T00:00:00Z"}
    ).encode()

    response = await client.post("/", content=body, headers=signed(body))

    assert response.status_code == 413
    assert recorder.events == []


async def test_streamed_oversized_body_without_length_is_413(receiver: WebhookReceiver) -> None:
    chunks = [b"x" * 3000, b"x" * 3000, b"never read"]
    messages = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(dict(message))

    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    await receiver(scope, receive, send)

    assert sent[0]["status"] == 413
    assert messages == [{"type": "http.request", "body": b"never read", "more_body": True}]


async def test_callback_error_answers_500_and_the_retry_is_accepted(
    client: httpx.AsyncClient,
    receiver: WebhookReceiver,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder.failures_left = 1
    body = job_event("evt_retry")

    with caplog.at_level(logging.DEBUG):
        first = await client.post("/", content=body, headers=signed(body))
        retry = await client.post("/", content=body, headers=signed(body))

    assert (first.status_code, retry.status_code) == (500, 200)
    assert retry.json() == {"status": "accepted"}
    assert [event.id for event in recorder.events] == ["evt_retry"]
    assert (receiver.stats.failed, receiver.stats.accepted) == (1, 1)
    assert "evt_retry" in caplog.text
    assert_no_secret(caplog.text, compute_signature(body, SECRET), "f00dfeed")


async def test_async_callback_is_awaited(receiver: WebhookReceiver) -> None:
    seen: list[str] = []

    async def on_event(event: WebhookEvent) -> None:
        await asyncio.sleep(0)
        seen.append(event.id)

    app = WebhookReceiver(SECRET, on_event)
    body = job_event("evt_async")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h") as c:
        response = await c.post("/", content=body, headers=signed(body))

    assert response.status_code == 200
    assert seen == ["evt_async"]


async def test_concurrent_deliveries_of_one_id_run_the_callback_once() -> None:
    calls: list[str] = []
    release = asyncio.Event()

    async def slow(event: WebhookEvent) -> None:
        calls.append(event.id)
        await release.wait()

    app = WebhookReceiver(SECRET, slow)
    body = job_event("evt_race")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h") as c:
        posts = [
            asyncio.create_task(c.post("/", content=body, headers=signed(body))) for _ in range(3)
        ]
        await asyncio.sleep(0.05)
        release.set()
        answers = await asyncio.gather(*posts)

    assert calls == ["evt_race"]
    assert sorted(answer.json()["status"] for answer in answers) == [
        "accepted",
        "duplicate",
        "duplicate",
    ]


async def test_remembered_ids_are_bounded(recorder: Recorder) -> None:
    app = WebhookReceiver(SECRET, recorder, remembered_events=2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h") as c:
        for event_id in ("a", "b", "c", "a"):
            body = job_event(event_id)
            await c.post("/", content=body, headers=signed(body))

    # "a" was pushed out by "b" and "c": memory stays bounded, an old replay is redelivered.
    assert [event.id for event in recorder.events] == ["a", "b", "c", "a"]
    assert len(app._seen._ids) == 2


async def test_secret_rotation_on_a_running_receiver(
    client: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    receiver.set_secrets("brand-new-secret")
    old = job_event("evt_old")
    new = job_event("evt_new")

    assert (await client.post("/", content=old, headers=signed(old))).status_code == 401
    assert (
        await client.post("/", content=new, headers=signed(new, "brand-new-secret"))
    ).status_code == 200


async def test_receiver_without_secret_yet_answers_503_until_set(recorder: Recorder) -> None:
    app = WebhookReceiver([], recorder)
    body = job_event("evt_early")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h") as c:
        early = await c.post("/", content=body, headers=signed(body))
        app.set_secrets(SECRET)
        later = await c.post("/", content=body, headers=signed(body))

    assert (early.status_code, later.status_code) == (503, 200)
    assert [event.id for event in recorder.events] == ["evt_early"]


async def test_lifespan_is_answered(receiver: WebhookReceiver) -> None:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message["type"])

    await receiver({"type": "lifespan"}, receive, send)

    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_nothing_secret_in_receiver_repr(receiver: WebhookReceiver) -> None:
    assert_no_secret(repr(receiver))
    assert_no_secret(str(receiver))
    assert_no_secret(repr(receiver.stats))


# --- the real listener over 127.0.0.1 --------------------------------------------------------


async def test_listener_serves_the_receiver_on_a_free_port(
    receiver: WebhookReceiver, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    body = job_event("evt_live")
    with caplog.at_level(logging.DEBUG):
        async with WebhookListener(receiver, path="/hooks/viesus") as listener:
            assert listener.port > 0
            assert listener.url == f"http://127.0.0.1:{listener.port}/hooks/viesus"
            async with httpx.AsyncClient() as http:
                ok = await http.post(listener.url, content=body, headers=signed(body))
                again = await http.post(listener.url, content=body, headers=signed(body))
                bad = await http.post(listener.url, content=body, headers=signed(body, "nope"))
            url = listener.url

    assert (ok.status_code, again.status_code, bad.status_code) == (200, 200, 401)
    assert [event.id for event in recorder.events] == ["evt_live"]
    with pytest.raises(RuntimeError, match="not running"):
        _ = listener.url
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.post(url, content=body, headers=signed(body))
    assert_no_secret(caplog.text, compute_signature(body, SECRET), "f00dfeed")


async def test_listener_on_a_busy_port_fails_clearly(receiver: WebhookReceiver) -> None:
    async with WebhookListener(receiver) as first:
        with pytest.raises(OSError, match=r"(?i)address already in use"):
            await WebhookListener(receiver, port=first.port).start()


# --- registration against a tiny GraphQL fake built from the client's own schema -----------


class FakeWebhookService:
    """In-memory webhooks behind ariadne, using the SDL shipped inside ``viesus_client``."""

    def __init__(self) -> None:
        self.webhooks: dict[str, dict[str, Any]] = {}
        self._ids = count(1)
        query, mutation = QueryType(), MutationType()
        query.set_field("webhooks", lambda *_: list(self.webhooks.values()))
        query.set_field("webhook", lambda _obj, _info, id: self.webhooks.get(id))
        mutation.set_field("createWebhook", self._create)
        mutation.set_field("deleteWebhook", self._delete)
        sdl = (importlib.resources.files("viesus_client") / "schema.graphql").read_text()
        self.app = GraphQL(make_executable_schema(sdl, query, mutation))

    def _create(self, _obj: Any, _info: Any, input: dict[str, Any]) -> dict[str, Any]:
        webhook_id = f"wh_{next(self._ids)}"
        self.webhooks[webhook_id] = {
            "id": webhook_id,
            "url": input["url"],
            "createdAt": "2025-05-15T00:00:12.000Z",
        }
        return {**self.webhooks[webhook_id], "secret": f"{SECRET}-{webhook_id}"}

    def _delete(self, _obj: Any, _info: Any, id: str) -> dict[str, bool]:
        return {"success": self.webhooks.pop(id, None) is not None}


@pytest.fixture
def service() -> FakeWebhookService:
    return FakeWebhookService()


@pytest.fixture
async def api(service: FakeWebhookService) -> AsyncIterator[ViesusApiClient]:
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport) as http:
        yield ViesusApiClient(url="http://fake.test/graphql", http_client=http)


@pytest.fixture
def quiet_secret_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):
        yield caplog
    assert SECRET not in caplog.text


async def test_register_returns_the_one_time_secret_and_hides_it(
    api: ViesusApiClient, service: FakeWebhookService, quiet_secret_logs: pytest.LogCaptureFixture
) -> None:
    registered = await register_webhook(api, "https://me.test/hooks?token=abc123")

    assert isinstance(registered, RegisteredWebhook)
    assert registered.id in service.webhooks
    assert registered.secret.get_secret_value() == f"{SECRET}-{registered.id}"
    for shown in (repr(registered), str(registered), quiet_secret_logs.text):
        assert_no_secret(shown, "abc123")
    assert "https://me.test/hooks?REDACTED" in repr(registered)


async def test_same_url_is_refused_unless_replaced(
    api: ViesusApiClient, service: FakeWebhookService
) -> None:
    url = "https://me.test/hooks"
    first = await register_webhook(api, url)

    with pytest.raises(WebhookAlreadyRegistered) as caught:
        await register_webhook(api, url)
    assert first.id in str(caught.value)
    assert "replace=True" in str(caught.value)

    second = await register_webhook(api, url, replace=True)
    assert second.id != first.id
    assert list(service.webhooks) == [second.id]
    assert second.secret.get_secret_value() != first.secret.get_secret_value()


async def test_limit_of_five_names_the_existing_webhooks(
    api: ViesusApiClient, service: FakeWebhookService
) -> None:
    for n in range(MAX_WEBHOOKS):
        await register_webhook(api, f"https://hooks{n}.test/in?sig=s3cr3t{n}")

    with pytest.raises(WebhookLimitReached) as caught:
        await register_webhook(api, "https://sixth.test/in")

    message = str(caught.value)
    assert "5" in message
    assert "viesus webhooks delete ID" in message
    for webhook_id in service.webhooks:
        assert webhook_id in message
    assert "https://hooks0.test/in?REDACTED" in message
    assert "s3cr3t" not in message
    assert caught.value.maximum == MAX_WEBHOOKS
    assert len(caught.value.existing) == MAX_WEBHOOKS


async def test_replace_at_the_limit_reuses_the_slot(
    api: ViesusApiClient, service: FakeWebhookService
) -> None:
    for n in range(MAX_WEBHOOKS):
        await register_webhook(api, f"https://hooks{n}.test/in")

    replaced = await register_webhook(api, "https://hooks2.test/in", replace=True)

    assert len(service.webhooks) == MAX_WEBHOOKS
    assert service.webhooks[replaced.id]["url"] == "https://hooks2.test/in"


async def test_remove_webhook(api: ViesusApiClient, service: FakeWebhookService) -> None:
    registered = await register_webhook(api, "https://me.test/hooks")

    assert await remove_webhook(api, registered.id) is True
    assert service.webhooks == {}
    assert await remove_webhook(api, registered.id) is False


async def test_registered_secret_verifies_a_delivery(api: ViesusApiClient) -> None:
    registered = await register_webhook(api, "https://me.test/hooks")
    body = job_event()
    headers = signed(body, registered.secret.get_secret_value())

    assert unwrap(body, headers, registered.secret.get_secret_value()).id == "evt_1"


# --- hostile but correctly signed bodies -----------------------------------------------------

DEEP_BODY = b"[" * 50_000 + b"]" * 50_000


def test_deeply_nested_signed_body_is_a_payload_error() -> None:
    with pytest.raises(WebhookPayloadError, match="nested too deeply"):
        unwrap(DEEP_BODY, signed(DEEP_BODY), SECRET)


async def test_deeply_nested_signed_body_is_400(recorder: Recorder) -> None:
    receiver = WebhookReceiver(SECRET, recorder)  # the default cap lets 100 KB through
    transport = httpx.ASGITransport(app=receiver)
    async with httpx.AsyncClient(transport=transport, base_url="http://hooks.test") as http:
        response = await http.post("/", content=DEEP_BODY, headers=signed(DEEP_BODY))

    assert response.status_code == 400
    assert "nested too deeply" in response.json()["error"]
    assert (receiver.stats.rejected, recorder.events) == (1, [])


async def test_deeply_nested_signed_body_is_400_through_the_listener(recorder: Recorder) -> None:
    receiver = WebhookReceiver(SECRET, recorder)
    async with WebhookListener(receiver) as listener, httpx.AsyncClient() as http:
        response = await http.post(listener.url, content=DEEP_BODY, headers=signed(DEEP_BODY))
        follow_up = await http.post(listener.url, content=job_event(), headers=signed(job_event()))

    assert response.status_code == 400
    assert "nested too deeply" in response.json()["error"]
    assert follow_up.status_code == 200
