"""Real processing and the credit ledger."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from tests.emulator.conftest import FAST, Api, jpeg
from tests.emulator.peer import Peer
from viesus_emulator import Emulator, EmulatorConfig, FaultConfig

URL_UPLOAD = (
    "mutation($u: String!) { createUploadFromUrl(input: {url: $u}) { id status width height } }"
)


async def test_url_upload_enhanced_x2_is_twice_the_size(api: Api, peer: Peer) -> None:
    url = peer.add_file("photo.jpg", jpeg(1200, 800))
    upload = (await api.data(URL_UPLOAD, {"u": url}))["createUploadFromUrl"]
    assert (upload["status"], upload["width"], upload["height"]) == ("UPLOAD_FINISHED", 1200, 800)

    job = await api.wait((await api.enhance(upload["id"], {"upscalingFactor": "X2"}))["id"])
    assert job["status"] == "FINISHED", job
    assert job["filename"] == "photo_enhanced.jpg"
    assert job["viesusDuration"] >= 0

    response = await api.http.get(job["fullUrl"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert int(response.headers["content-length"]) == len(response.content)
    assert Image.open(io.BytesIO(response.content)).size == (2400, 1600)


async def test_download_urls_are_signed(api: Api) -> None:
    upload = await api.signed_upload(jpeg())
    job = await api.wait((await api.enhance(upload["id"]))["id"])
    unsigned = job["fullUrl"].split("?")[0]
    assert (await api.http.get(unsigned)).status_code == 403
    tampered = job["fullUrl"].replace("signature=", "signature=0")
    assert (await api.http.get(tampered)).status_code == 403
    non_ascii = job["fullUrl"].split("signature=")[0] + "signature=%C3%A9"
    denied = await api.http.get(non_ascii)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "AccessDenied"
    original = await api.http.get(upload["url"])
    assert original.status_code == 200
    assert original.content == jpeg()


@pytest.mark.parametrize(
    ("params", "cost"),
    [
        ({"upscalingFactor": "X2"}, 4),
        ({"noiseReductionProfilingStrength": 0.4}, 1),
        ({"customColorConfig": {"colorfac": 0.6}, "upscalingFactor": "X2"}, 4),
        ({"mode": "ENHANCE"}, 1),
        (None, 1),
        ({"backgroundRemovalMode": "BLUR", "backgroundRemovalBlur": 0.5}, 4),
    ],
)
async def test_credits_charged_per_documented_price(
    api: Api, params: dict[str, Any] | None, cost: int
) -> None:
    upload = await api.signed_upload(jpeg(96, 64))
    job = await api.wait((await api.enhance(upload["id"], params))["id"])
    assert job["status"] == "FINISHED", job
    credits = await api.credits()
    assert credits["usedCreditsThisPeriod"] == cost
    assert credits["remainingCreditsThisPeriod"] == 1000 - cost


async def test_failed_jobs_are_free(api: Api, emu: Emulator) -> None:
    emu.faults = FaultConfig(job_error_rate=1.0)
    upload = await api.signed_upload(jpeg())
    job = await api.wait((await api.enhance(upload["id"], {"upscalingFactor": "X2"}))["id"])
    assert (job["status"], job["errorCode"], job["fullUrl"]) == ("ERROR", "PROCESSING_FAILED", None)
    assert (await api.credits())["usedCreditsThisPeriod"] == 0
    stats = emu.stats()
    assert stats["faults"] == {"job_error": 1}
    assert stats["credits"]["reserved"] == 0


async def test_insufficient_credits_creates_nothing(api: Api, emu: Emulator) -> None:
    emu.state.ledger.set_allowance(5)
    upload = await api.signed_upload(jpeg())
    emu.state.config.time_scale = 5.0  # keep the first job queued while the second is refused
    first = await api.enhance(upload["id"], {"upscalingFactor": "X2"})
    assert first["status"] == "QUEUED"
    refused = await api.gql(
        "mutation($u: ID!) "
        "{ createEnhancedImage(uploadId: $u, input: {upscalingFactor: X4}) { id } }",
        {"u": upload["id"]},
    )
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"] == {
        "code": "INSUFFICIENT_CREDITS",
        "cost": 4,
        "available": 1,
    }
    cheap = await api.enhance(upload["id"], {"noiseReductionProfilingStrength": 0.2})
    assert cheap["status"] == "QUEUED"
    assert emu.stats()["jobs"]["total"] == 2
    assert emu.stats()["credits"]["reserved"] == 5


async def test_upscaling_limits_end_the_job_in_error_for_free(api: Api) -> None:
    upload = await api.signed_upload(jpeg(100, 60))
    x4_too_far = await api.enhance(upload["id"], {"upscalingCustomWidth": 401})
    assert (x4_too_far["status"], x4_too_far["errorCode"]) == ("ERROR", "UPSCALING_LIMIT_EXCEEDED")
    ok = await api.wait((await api.enhance(upload["id"], {"upscalingCustomWidth": 400}))["id"])
    assert ok["status"] == "FINISHED"
    assert (await api.credits())["usedCreditsThisPeriod"] == 4


async def test_duplicate_jobs_are_counted(api: Api, emu: Emulator) -> None:
    upload = await api.signed_upload(jpeg())
    await api.enhance(upload["id"], {"noiseReductionProfilingStrength": 0.5})
    await api.enhance(upload["id"], {"noiseReductionProfilingStrength": 0.50})
    await api.enhance(upload["id"], {"noiseReductionProfilingStrength": 0.6})
    jobs = emu.stats()["jobs"]
    assert jobs["duplicates"] == 1
    assert jobs["per_upload"] == {upload["id"]: 3}
    await emu.drain()


async def test_background_replacement_fetches_the_background(api: Api, peer: Peer) -> None:
    upload = await api.signed_upload(jpeg(80, 80))
    background = peer.add_file("bg.jpg", jpeg(80, 80))
    params = {"backgroundRemovalMode": "REPLACE", "backgroundRemovalReplaceImageUrl": background}
    done = await api.wait((await api.enhance(upload["id"], params))["id"])
    assert done["status"] == "FINISHED", done
    params["backgroundRemovalReplaceImageUrl"] = peer.url("files/missing.jpg")
    failed = await api.wait((await api.enhance(upload["id"], params))["id"])
    assert (failed["status"], failed["errorCode"]) == ("ERROR", "BACKGROUND_FETCH_FAILED")


async def test_background_url_httpx_refuses_is_a_background_fetch_failure(api: Api) -> None:
    upload = await api.signed_upload(jpeg(80, 80))
    params = {
        "backgroundRemovalMode": "REPLACE",
        "backgroundRemovalReplaceImageUrl": "http://xn--/bg.jpg",
    }
    done = await api.wait((await api.enhance(upload["id"], params))["id"])
    assert (done["status"], done["errorCode"]) == ("ERROR", "BACKGROUND_FETCH_FAILED")


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(workers=1, **FAST)])  # type: ignore[arg-type]
async def test_a_failing_status_event_neither_kills_the_slot_nor_recharges(
    api: Api, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload = await api.signed_upload(jpeg())

    def broken_emit(event: str, data: dict[str, Any]) -> str:
        raise RuntimeError("event emission failed")

    monkeypatch.setattr(emu.state.dispatcher, "emit", broken_emit)
    first = await api.enhance(upload["id"], {"upscalingFactor": "X2"})
    second = await api.enhance(upload["id"], {"upscalingFactor": "X2"})
    for job in (first, second):
        assert (await api.wait(job["id"], timeout=5))["status"] == "FINISHED"
    credits = emu.stats()["credits"]
    assert (credits["used"], credits["reserved"], credits["charged"]) == (8, 0, 8)
