"""Bounded state: retention of uploads and results, capped delivery records, missing files,
and a threaded runner that never leaks its thread."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.emulator.conftest import FAST, JOB_FIELDS, Api, jpeg
from tests.emulator.peer import Peer
from viesus_emulator import Emulator, EmulatorConfig
from viesus_emulator._retention import sweep
from viesus_emulator._store import utcnow

RETENTION = 3600.0


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(**FAST, retention=RETENTION)  # type: ignore[arg-type]


async def finished_job(api: Api) -> tuple[dict[str, object], dict[str, object]]:
    upload = await api.signed_upload(jpeg())
    job = await api.wait(str((await api.enhance(str(upload["id"])))["id"]))
    assert job["status"] == "FINISHED"
    return upload, job


async def test_expired_uploads_and_jobs_answer_like_unknown_ids(api: Api, emu: Emulator) -> None:
    upload, job = await finished_job(api)
    state = emu.state
    upload_file = state.store.uploads[str(upload["id"])].path
    result_file = state.store.jobs[str(job["id"])].result_path
    assert upload_file is not None
    assert result_file is not None
    assert upload_file.exists()
    assert result_file.exists()

    assert await sweep(state, utcnow() + timedelta(seconds=RETENTION - 60)) == 0  # not yet
    assert await sweep(state, utcnow() + timedelta(seconds=RETENTION + 1)) == 1

    assert not upload_file.exists()
    assert not result_file.exists()
    assert (await api.data("query($i: ID!) { upload(id: $i) { id } }", {"i": upload["id"]})) == {
        "upload": None
    }
    assert await api.data("query($i: ID!) { enhancedImage(id: $i) { id } }", {"i": job["id"]}) == {
        "enhancedImage": None
    }
    body = await api.gql(
        f"mutation($u: ID!) {{ createEnhancedImage(uploadId: $u) {{ {JOB_FIELDS} }} }}",
        {"u": upload["id"]},
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert (await api.http.get(str(job["fullUrl"]))).status_code == 404
    assert (await api.http.get(str(upload["url"]))).status_code == 404
    stats = emu.stats()
    assert stats["uploads"]["expired"] == 1
    assert stats["jobs"]["expired"] == 1
    assert stats["jobs"]["times"] == {}


async def test_work_in_progress_is_never_swept(api: Api, emu: Emulator) -> None:
    upload = await api.signed_upload(jpeg())
    emu.state.config.time_scale = 100.0  # the job stays QUEUED for a long time
    job = await api.enhance(str(upload["id"]))
    assert await sweep(emu.state, utcnow() + timedelta(days=365)) == 0
    assert str(job["id"]) in emu.state.store.jobs


async def test_a_later_job_extends_the_uploads_retention(api: Api, emu: Emulator) -> None:
    upload, first = await finished_job(api)
    job = emu.state.store.jobs[str(first["id"])]
    job.created_at -= timedelta(seconds=RETENTION * 2)  # an old job ...
    job.finished_at = job.created_at
    emu.state.store.uploads[str(upload["id"])].created_at = job.created_at
    emu.state.store.uploads[str(upload["id"])].finished_at = job.created_at
    await api.wait(str((await api.enhance(str(upload["id"])))["id"]))  # ... and a fresh one
    assert await sweep(emu.state) == 0


async def test_the_sweeper_runs_on_its_own(http: httpx.AsyncClient) -> None:
    config = EmulatorConfig(**FAST, retention=0.05, sweep_interval=0.05)  # type: ignore[arg-type]
    async with Emulator(config) as emu:
        api = Api(emu, http)
        upload = await api.signed_upload(jpeg())
        async with asyncio.timeout(10):
            while str(upload["id"]) in emu.state.store.uploads:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        assert emu.stats()["uploads"]["expired"] == 1


async def test_a_file_deleted_from_outside_is_a_404(api: Api, emu: Emulator) -> None:
    upload, job = await finished_job(api)
    result_file = emu.state.store.jobs[str(job["id"])].result_path
    assert result_file is not None
    result_file.unlink()
    response = await api.http.get(str(job["fullUrl"]))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NoSuchKey"
    upload_file = emu.state.store.uploads[str(upload["id"])].path
    assert upload_file is not None
    upload_file.unlink()
    assert (await api.http.get(str(upload["url"]))).status_code == 404


async def test_delivery_records_are_capped(http: httpx.AsyncClient, peer: Peer) -> None:
    config = EmulatorConfig(**FAST, max_delivery_records=3)  # type: ignore[arg-type]
    async with Emulator(config) as emu:
        api = Api(emu, http)
        await api.data(
            "mutation($u: String!) { createWebhook(input: {url: $u}) { id } }",
            {"u": peer.url("hooks/a")},
        )
        for _ in range(5):
            await api.signed_upload(jpeg())
        await emu.drain()
        deliveries = emu.state.dispatcher.deliveries
        assert len(deliveries) == 3
        assert emu.stats()["webhooks"]["deliveries"] == 5  # the counters still count all
        latest = [json.loads(r.body)["id"] for r in peer.received[-3:]]
        assert sorted(d.event_id for d in deliveries) == sorted(latest)  # the newest are kept


def test_startup_timeout_does_not_leak_the_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    started = threading.Event()

    async def slow_start(self: Emulator) -> None:
        started.set()
        await asyncio.sleep(60)

    monkeypatch.setattr(Emulator, "start", slow_start)
    emu = Emulator(EmulatorConfig(**FAST))  # type: ignore[arg-type]
    with (
        pytest.raises(RuntimeError, match=r"did not start within 0\.2 s"),
        emu.running_in_thread(startup_timeout=0.2),
    ):
        pass
    assert started.is_set()
    assert not [t for t in threading.enumerate() if t.name == "viesus-emulator"]


PHOTO = jpeg()
SIGN = (
    "mutation($i: CreateSignedUploadUrlInput!) "
    "{ createSignedUploadUrl(input: $i) { uploadId uploadUrl } }"
)


async def reserve(api: Api, key: str) -> dict[str, Any]:
    variables = {"i": {"filename": "a.jpg", "filesize": len(PHOTO), "mimetype": "image/jpeg"}}
    response = await api.post(SIGN, variables, headers={"x-api-key": key})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_pending_uploads_have_a_default_bound() -> None:
    assert EmulatorConfig().max_pending_uploads == 1000
    with pytest.raises(ValueError, match="max_pending_uploads"):
        EmulatorConfig(max_pending_uploads=0)


@pytest.mark.parametrize(
    "emulator_config",
    [EmulatorConfig(**FAST, api_keys=("a", "b"), max_pending_uploads=3)],  # type: ignore[arg-type]
)
async def test_pending_signed_uploads_are_bounded_per_key(api: Api, emu: Emulator) -> None:
    reserved = [await reserve(api, "a") for _ in range(3)]
    assert all("errors" not in body for body in reserved), reserved
    refused = await reserve(api, "a")
    assert refused["data"] is None
    (error,) = refused["errors"]
    assert error["extensions"] == {"code": "LIMIT_EXCEEDED", "limit": 3}
    assert "3 pending signed uploads" in error["message"]
    assert len(emu.state.store.uploads) == 3  # the refused one was not created
    assert "errors" not in await reserve(api, "b")  # every key has a budget of its own
    # A completed upload is no longer pending: its place is free again (once).
    signed = reserved[0]["data"]["createSignedUploadUrl"]
    put = await api.http.put(
        signed["uploadUrl"], content=PHOTO, headers={"content-type": "image/jpeg"}
    )
    assert put.status_code == 200, put.text
    done = await api.data(
        "mutation($u: ID!) { completeSignedUpload(uploadId: $u) { status } }",
        {"u": signed["uploadId"]},
    )
    assert done["completeSignedUpload"]["status"] == "UPLOAD_FINISHED"
    assert "errors" not in await reserve(api, "a")
    assert "errors" in await reserve(api, "a")
