"""Journal resume after an interrupted batch; webhook waiting; secrets kept out of logs."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.facade.conftest import API_KEY, emulator_config, make_client, requests_for
from viesus import AsyncViesus, EnhanceOptions, EnhanceResult, PollSchedule
from viesus_emulator import Emulator, FaultConfig

X2 = EnhanceOptions.model_validate({"upscalingFactor": "X2"})
SLOW_POLL = PollSchedule(first=30.0, cap=60.0, safety_interval=60.0)


async def run_until(
    viesus: AsyncViesus, sources: list[Path], out: Path, journal: Path, stop_after: int
) -> list[EnhanceResult]:
    """Consume ``stop_after`` results, then abandon the batch (as a crash or Ctrl-C would)."""
    got: list[EnhanceResult] = []
    stream = viesus.enhance_many(sources, X2, out, journal=journal)
    try:
        async for result in stream:
            got.append(result)
            if len(got) >= stop_after:
                break
    finally:
        await stream.aclose()
    return got


async def test_an_abandoned_batch_leaves_no_job_watched_in_the_client(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    """Jobs wait as records in the client's poller (no task each): abandoning the batch must
    take them out, or the client would poll them for as long as it lives."""
    # Jobs long enough that most still wait at the first result, whatever the machine's load.
    async with (
        Emulator(emulator_config(time_scale=0.1)) as slow,
        make_client(slow, batch_size=4) as viesus,
    ):
        stream = viesus.enhance_many(photos(20), X2, tmp_path / "out")
        first = await anext(stream)
        waiting = viesus.poller.pending
        await stream.aclose()

        assert first.ok
        assert waiting > 0  # 20 jobs on 4 slots: most still queued at the first result
        assert viesus.poller.pending == 0


@pytest.mark.parametrize("cancel_at", ["after_first_result", "while_creating"])
async def test_resume_after_interruption_makes_no_duplicate(
    cancel_at: str, emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    sources = photos(15)
    out, journal = tmp_path / "out", tmp_path / "out" / ".journal.sqlite"
    async with make_client(emulator, batch_size=4) as viesus:
        if cancel_at == "after_first_result":
            first = await run_until(viesus, sources, out, journal, stop_after=1)
            assert len(first) == 1
        else:
            # Lose every create answer, and interrupt while the batch is busy creating.
            emulator.faults = FaultConfig(
                lost_response=1.0, only_operations=frozenset({"CreateEnhancedImages"})
            )
            task = asyncio.create_task(run_until(viesus, sources, out, journal, stop_after=99))
            while requests_for(emulator, "CreateEnhancedImages") < 1:  # noqa: ASYNC110
                await asyncio.sleep(0.005)  # the emulator's counter has no event to wait on
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            emulator.faults = FaultConfig()
    async with make_client(emulator, batch_size=4) as viesus:
        rest = [r async for r in viesus.enhance_many(sources, X2, out, journal=journal)]
    assert len(rest) == 15
    assert all(r.ok for r in rest), [r.reason for r in rest if not r.ok]
    stats = emulator.stats()
    assert stats["jobs"]["duplicates"] == 0
    assert stats["jobs"]["total"] == 15
    assert all(count == 1 for count in stats["jobs"]["per_upload"].values())
    outputs = sorted(p.name for p in out.glob("*.jpg"))
    assert outputs == sorted(f"photo{i:03d}_enhanced.jpg" for i in range(15))
    # A third run has nothing left to do and asks the server nothing.
    before = stats["requests"]["total"]
    async with make_client(emulator) as viesus:
        third = [r async for r in viesus.enhance_many(sources, X2, out, journal=journal)]
    assert {r.status for r in third} == {"skipped"}
    assert emulator.stats()["requests"]["total"] == before


async def test_webhook_deliveries_make_waits_read_at_once(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    """The schedule's first look is 30 s away: only deliveries (as hints) end these waits,
    each through a read of the API, coalesced (at most one read per delivery)."""
    async with make_client(emulator, poll_schedule=SLOW_POLL) as viesus:
        async with viesus.listen_for_webhooks() as webhook:
            assert emulator.stats()["webhooks"]["registered"] == 1
            results = [
                r async for r in viesus.enhance_many(photos(5), X2, tmp_path / "out", timeout=20)
            ]
            assert webhook.id
        assert emulator.stats()["webhooks"]["registered"] == 0
    assert [r.status for r in results] == ["finished"] * 5
    assert 1 <= requests_for(emulator, "PollEnhancedImages") <= 5


async def test_receiver_rejects_tampered_wrongly_signed_and_replayed_deliveries(
    viesus: AsyncViesus,
) -> None:
    secret = "whsec-test-1"
    receiver = viesus.webhook_receiver(secret)
    event = {
        "id": "evt_1",
        "event": "enhanced_image.status_update",
        "data": {"id": "job_1", "status": "FINISHED", "fullUrl": "http://x/r.jpg"},
        "created": "2026-11-24T10:00:00Z",
    }
    body = json.dumps(event).encode()
    good = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    bad = hmac.new(b"other-secret", body, hashlib.sha256).hexdigest()
    transport = httpx.ASGITransport(app=receiver)
    async with httpx.AsyncClient(transport=transport, base_url="http://hook") as client:
        sig = "x-viesus-cloud-signature"
        tampered = body.replace(b"FINISHED", b"ERROR\x20\x20\x20")
        assert (await client.post("/", content=tampered, headers={sig: good})).status_code == 401
        assert (await client.post("/", content=body, headers={sig: bad})).status_code == 401
        assert (await client.post("/", content=body)).status_code == 401
        assert (await client.post("/", content=body, headers={sig: good})).status_code == 200
        assert (await client.post("/", content=body, headers={sig: good})).status_code == 200
    assert receiver.stats.accepted == 1
    assert receiver.stats.duplicates == 1
    assert receiver.stats.rejected == 3


async def test_debug_logs_of_a_whole_run_hold_no_secret(
    emulator: Emulator,
    photos: Callable[..., list[Path]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.faults = FaultConfig(http_500=0.2, lost_response=0.2, only_operations=None)
    secrets: list[str] = []
    async with (
        make_client(emulator, batch_size=2) as viesus,
        viesus.listen_for_webhooks() as webhook,
    ):
        secrets.append(webhook.secret.get_secret_value())
        results = [r async for r in viesus.enhance_many(photos(6), X2, tmp_path / "out")]
        text = " ".join(repr(r) + str(r.error) for r in results) + repr(viesus) + repr(webhook)
    assert all(r.ok for r in results), [r.reason for r in results]
    logged = caplog.text + text
    assert API_KEY not in logged
    assert secrets[0] not in logged
    assert "token=" not in logged
    assert "signature=" not in logged.lower()
    assert "sig=" not in logged


async def test_register_and_remove_webhook_through_the_client(
    viesus: AsyncViesus, emulator: Emulator
) -> None:
    registered = await viesus.register_webhook("http://127.0.0.1:9/hook")
    secret = registered.secret.get_secret_value()
    assert len(secret) >= 16
    assert secret not in repr(registered)
    assert secret not in str(registered)
    assert emulator.stats()["webhooks"]["registered"] == 1
    assert await viesus.remove_webhook(registered.id)
    assert not await viesus.remove_webhook(registered.id)
    assert emulator.stats()["webhooks"]["registered"] == 0


async def test_failed_items_are_retried_on_a_fresh_upload_and_never_adopt_the_old_job(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    sources = photos(4)
    out, journal = tmp_path / "out", tmp_path / "journal.sqlite"
    emulator.faults = FaultConfig(job_error_rate=1.0)
    async with make_client(emulator) as viesus:
        first = [r async for r in viesus.enhance_many(sources, X2, out, journal=journal)]
    assert {r.status for r in first} == {"failed"}
    # The retry's create answers are all lost: reconciliation must find the NEW jobs.
    emulator.faults = FaultConfig(
        lost_response=1.0, only_operations=frozenset({"CreateEnhancedImages"})
    )
    async with make_client(emulator) as viesus:
        second = [r async for r in viesus.enhance_many(sources, X2, out, journal=journal)]
    assert [r.status for r in second] == ["finished"] * 4
    assert {r.job_id for r in second}.isdisjoint({r.job_id for r in first})
    stats = emulator.stats()
    assert stats["jobs"]["by_status"] == {"ERROR": 4, "FINISHED": 4}
    assert all(count == 1 for count in stats["jobs"]["per_upload"].values())
    assert stats["credits"]["used"] == 4 * 4
