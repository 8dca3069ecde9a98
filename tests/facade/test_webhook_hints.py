"""Webhooks are hints, the API is the truth; listeners clean up after themselves (issue 8).

Reproduced first: a validly signed ``ERROR`` event for a job that then finished failed the
item (a rerun paid again); a receiver that never got a delivery slowed all polling to 60 s;
each crashed ``listen_for_webhooks`` process leaked a webhook until the sixth start hit the
limit of 5; a lost ``createWebhook`` answer raised a raw non-``ViesusError``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.facade.conftest import make_client, requests_for
from viesus import AsyncViesus, EnhanceOptions, PollSchedule, ServerError, ViesusError
from viesus._webhooks.registration import LISTENER_ROOT, ListenerTag, machine_tag
from viesus_client.input_types import CreateWebhookInput
from viesus_emulator import Emulator

SLOW_POLL = PollSchedule(first=30.0, cap=60.0, safety_interval=60.0)
SECRET = "whsec-hints-test"


def delivery(event_id: str, data: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "id": event_id,
            "event": "enhanced_image.status_update",
            "data": data,
            "created": "2026-11-30T10:00:00Z",
        }
    ).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"x-viesus-cloud-signature": signature}


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the emulator's store has no events to await
            await asyncio.sleep(0.005)


async def test_signed_error_and_finished_without_url_events_do_not_end_the_item(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    async with make_client(emulator, poll_schedule=SLOW_POLL) as viesus:
        receiver = viesus.webhook_receiver(SECRET)
        transport = httpx.ASGITransport(app=receiver)
        async with httpx.AsyncClient(transport=transport, base_url="http://hook") as hooks:
            task = asyncio.create_task(
                viesus.enhance(photos(1)[0], EnhanceOptions(), tmp_path / "out", timeout=20)
            )
            await until(lambda: bool(emulator.state.store.jobs))
            (job,) = emulator.state.store.jobs.values()

            body, headers = delivery("evt-1", {"id": job.id, "status": "ERROR", "errorCode": "X"})
            assert (await hooks.post("/", content=body, headers=headers)).status_code == 200
            body, headers = delivery("evt-2", {"id": job.id, "status": "FINISHED"})
            assert (await hooks.post("/", content=body, headers=headers)).status_code == 200

            await until(lambda: job.status == "FINISHED")
            body, headers = delivery("evt-3", {"id": job.id, "status": "FINISHED"})
            assert (await hooks.post("/", content=body, headers=headers)).status_code == 200
            result = await task
    assert result.status == "finished"
    assert result.output_path is not None
    assert result.output_path.exists()
    assert emulator.stats()["jobs"]["total"] == 1


async def test_a_receiver_that_hears_nothing_does_not_slow_polling(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    fast = PollSchedule(first=0.02, cap=0.2, safety_interval=60.0)
    async with make_client(emulator, poll_schedule=fast) as viesus:
        viesus.webhook_receiver(SECRET)
        result = await viesus.enhance(photos(1)[0], None, tmp_path / "out", timeout=10)
    assert result.status == "finished"


# --- listeners: identifiable, cleaned up, never deleting what they did not create -------------


def dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)


def listener_url(name: str, pid: int) -> str:
    return f"http://127.0.0.1:9/{LISTENER_ROOT}/{machine_tag()}/{name}/{pid}/0000"


async def registered_urls(viesus: AsyncViesus) -> set[str]:
    return {w.url for w in (await viesus.api.list_webhooks()).webhooks}


async def test_listener_removes_only_what_dead_listeners_of_its_name_left(
    emulator: Emulator, viesus: AsyncViesus
) -> None:
    gone = dead_pid()
    keep = {
        "https://example.test/the-callers-own-hook",
        listener_url("default", os.getppid()),  # a live process's listener
        listener_url("other-name", gone),
        f"http://127.0.0.1:9/{LISTENER_ROOT}/someothermachine/default/{gone}/0000",
    }
    stale = listener_url("default", gone)
    for url in [*keep, stale]:
        await viesus.api.create_webhook(input=CreateWebhookInput(url=url))

    async with viesus.listen_for_webhooks() as webhook:
        during = await registered_urls(viesus)
        tag = ListenerTag.of_url(webhook.url)
    after = await registered_urls(viesus)

    assert during == keep | {webhook.url}
    assert tag is not None
    assert (tag.machine, tag.name, tag.pid) == (machine_tag(), "default", os.getpid())
    assert after == keep


async def test_crashed_listeners_never_fill_the_webhook_limit(
    emulator: Emulator, viesus: AsyncViesus, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    for _ in range(5):  # five crashed processes, each left its webhook behind
        await viesus.api.create_webhook(
            input=CreateWebhookInput(url=listener_url("default", dead_pid()))
        )

    async with viesus.listen_for_webhooks() as webhook:
        assert await registered_urls(viesus) == {webhook.url}
        result = await viesus.enhance(photos(1)[0], None, tmp_path / "out", timeout=20)
    assert result.status == "finished"
    assert await registered_urls(viesus) == set()


def test_listener_urls_carry_the_tag_after_a_public_url() -> None:
    tag = ListenerTag(machine="abc", name="n", pid=42, nonce="ff")

    url = tag.url_on("https://tunnel.test/base/")

    assert url == f"https://tunnel.test/base/{LISTENER_ROOT}/abc/n/42/ff"
    assert ListenerTag.of_url(url) == tag
    assert ListenerTag.of_url("https://example.test/hooks") is None


class LoseAnswers(httpx.AsyncBaseTransport):
    """Forward every request; for ``operation``, drop the first ``times`` answers after the
    server has executed them (the case in which the service created a webhook nobody knows)."""

    def __init__(self, operation: str, times: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.operation = operation
        self.times = times

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        operation = None
        if request.method == "POST" and request.url.path.endswith("/graphql"):
            operation = json.loads(request.content).get("operationName")
        if operation == self.operation and self.times > 0:
            self.times -= 1
            await response.aread()
            await response.aclose()
            raise httpx.ReadError("connection lost before the answer", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_lost_registration_answer_is_reconciled_by_listing(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    async with make_client(emulator, transport=LoseAnswers("CreateWebhook", 1)) as viesus:
        async with viesus.listen_for_webhooks() as webhook:
            assert await registered_urls(viesus) == {webhook.url}  # the secretless one is gone
            result = await viesus.enhance(photos(1)[0], None, tmp_path / "out", timeout=20)
            assert requests_for(emulator, "CreateWebhook") == 2
        assert await registered_urls(viesus) == set()
    assert result.status == "finished"
    assert emulator.stats()["webhooks"]["succeeded"] >= 1


async def test_registration_that_never_answers_raises_a_viesus_error_and_leaves_nothing(
    emulator: Emulator,
) -> None:
    async with make_client(emulator, transport=LoseAnswers("CreateWebhook", 99)) as viesus:
        with pytest.raises(ServerError) as caught:
            async with viesus.listen_for_webhooks():
                pass
        assert isinstance(caught.value, ViesusError)
        assert "webhooks remove" not in str(caught.value)
        assert await registered_urls(viesus) == set()
