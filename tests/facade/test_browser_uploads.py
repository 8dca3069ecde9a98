"""The web-app flow (issue 21): the page PUTs, the server enhances; one job whatever happens.

The PUT is sent here with httpx exactly as the page sends it (the URL and headers returned,
no API key); tests/webapp/ does the same from a real browser.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.facade.conftest import FaultConfig, make_client, requests_for
from viesus import (
    AsyncViesus,
    BrowserUpload,
    EnhanceOptions,
    InsufficientCredits,
    LimitExceeded,
    UnsupportedUpload,
    UploadFailed,
)
from viesus_emulator import Emulator

X2 = EnhanceOptions(upscaling_factor="X2")


async def put_like_a_page(upload: BrowserUpload, path: Path) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.put(upload.url, content=path.read_bytes(), headers=upload.headers)
    assert response.status_code == 200, response.text


async def uploaded(viesus: AsyncViesus, path: Path, mimetype: str = "image/jpeg") -> str:
    upload = await viesus.create_browser_upload(path.name, path.stat().st_size, mimetype)
    assert upload.headers == {"Content-Type": mimetype}
    assert "signature" not in repr(upload)  # the signed URL stays out of reprs
    await put_like_a_page(upload, path)
    return upload.upload_id


def jobs(emu: Emulator) -> tuple[int, int]:
    stats = emu.stats()["jobs"]
    return int(stats["total"]), int(stats["duplicates"])


async def test_three_requests_and_a_finished_x2_result(
    emulator: Emulator, viesus: AsyncViesus, photos: Callable[..., list[Path]]
) -> None:
    [photo] = photos(1)
    upload_id = await uploaded(viesus, photo)
    made = await viesus.enhance_upload(upload_id, X2, wait=True, timeout=60)
    assert made.job.finished
    assert made.job.full_url
    assert not made.adopted
    assert (made.credits, made.width, made.height) == (4, 96, 64)
    async with httpx.AsyncClient() as http:
        result = await http.get(made.job.full_url)
    result_path = photo.with_name("result.jpg")
    result_path.write_bytes(result.content)
    with Image.open(result_path) as image:
        assert image.size == (192, 128)
    counted = {
        name: requests_for(emulator, name)
        for name in ("CreateBrowserUpload", "CompleteBrowserUpload", "CreateEnhancedImages")
    }
    assert counted == dict.fromkeys(counted, 1)  # + the PUT and the polls of wait=True
    assert requests_for(emulator, "ReconcileUploads") == 0
    assert jobs(emulator) == (1, 0)


async def test_a_retry_by_a_restarted_app_adopts_the_job(
    emulator: Emulator, photos: Callable[..., list[Path]]
) -> None:
    [photo] = photos(1)
    async with make_client(emulator) as first:
        upload_id = await uploaded(first, photo)
        made = await first.enhance_upload(upload_id, X2)
    # A new process (another client) asked again by the page: the upload's job is found.
    async with make_client(emulator) as restarted:
        again = await restarted.enhance_upload(upload_id, X2, wait=True, timeout=60)
    assert again.adopted
    assert again.job.id == made.job.id
    assert again.job.finished
    assert jobs(emulator) == (1, 0)
    assert requests_for(emulator, "CreateEnhancedImages") == 1


async def test_a_lost_create_answer_is_reconciled_not_resent(
    emulator: Emulator, viesus: AsyncViesus, photos: Callable[..., list[Path]]
) -> None:
    [photo] = photos(1)
    upload_id = await uploaded(viesus, photo)
    emulator.faults = FaultConfig(
        lost_response=1.0, only_operations=frozenset({"CreateEnhancedImages"})
    )
    made = await viesus.enhance_upload(upload_id, X2)
    emulator.faults = FaultConfig()
    assert made.adopted
    assert requests_for(emulator, "CreateEnhancedImages") == 1
    assert requests_for(emulator, "ReconcileUploads") >= 1
    assert jobs(emulator) == (1, 0)


async def test_a_double_click_makes_one_job(
    emulator: Emulator, viesus: AsyncViesus, photos: Callable[..., list[Path]]
) -> None:
    [photo] = photos(1)
    upload_id = await uploaded(viesus, photo)
    one, two = await asyncio.gather(
        viesus.enhance_upload(upload_id, X2), viesus.enhance_upload(upload_id, X2)
    )
    assert one.job.id == two.job.id
    assert [one.adopted, two.adopted].count(True) == 1
    assert jobs(emulator) == (1, 0)


@pytest.mark.parametrize(
    ("name", "size", "mimetype", "error", "words"),
    [
        ("notes.txt", 10, "text/plain", UnsupportedUpload, "JPEG, PNG, TIFF or WebP"),
        ("anim.gif", 10, "image/gif", UnsupportedUpload, "JPEG, PNG, TIFF or WebP"),
        ("photo.jpg", 10, "image/png", UnsupportedUpload, "does not match .jpg"),
        ("photo.jpg", 101 * 1024 * 1024, "image/jpeg", LimitExceeded, "104,857,600"),
    ],
)
async def test_refused_before_any_request(
    emulator: Emulator,
    viesus: AsyncViesus,
    name: str,
    size: int,
    mimetype: str,
    error: type[Exception],
    words: str,
) -> None:
    before = emulator.stats()["requests"]["total"]
    with pytest.raises(error, match=words):
        await viesus.create_browser_upload(name, size, mimetype)
    assert emulator.stats()["requests"]["total"] == before


async def test_an_empty_type_is_taken_from_the_name(viesus: AsyncViesus) -> None:
    upload = await viesus.create_browser_upload("scan.TIF", 10, "")
    assert upload.headers == {"Content-Type": "image/tiff"}
    with pytest.raises(LimitExceeded, match="is 11, the limit is 10"):
        await viesus.create_browser_upload("a.png", 11, "image/png", max_bytes=10)


async def test_service_refusals_are_typed(
    emulator: Emulator, viesus: AsyncViesus, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg" * 10)
    with pytest.raises(UnsupportedUpload, match=r"broken\.jpg"):
        await viesus.enhance_upload(await uploaded(viesus, broken), X2)
    never_put = await viesus.create_browser_upload("late.jpg", 100, "image/jpeg")
    with pytest.raises(UploadFailed, match="UPLOAD_NOT_RECEIVED"):
        await viesus.enhance_upload(never_put.upload_id, X2)
    assert jobs(emulator) == (0, 0)


async def test_limits_and_credits_refuse_before_charging(
    emulator: Emulator, viesus: AsyncViesus, tmp_path: Path, photos: Callable[..., list[Path]]
) -> None:
    wide = tmp_path / "wide.png"
    Image.new("RGB", (3100, 8), "gray").save(wide)
    with pytest.raises(LimitExceeded, match=r"3,000|3000"):
        await viesus.enhance_upload(await uploaded(viesus, wide, "image/png"), X2)
    assert jobs(emulator) == (0, 0)
    [photo] = photos(1)
    upload_id = await uploaded(viesus, photo)
    emulator.state.ledger.set_allowance(3)  # less than the 4 credits of X2
    with pytest.raises(InsufficientCredits):
        await viesus.enhance_upload(upload_id, X2)


def test_the_sync_client_has_the_flow(tmp_path: Path) -> None:
    from tests.facade.conftest import API_KEY, FAST_POLL, emulator_config, write_photo
    from viesus import Viesus

    photo = write_photo(tmp_path / "p.jpg")
    with (
        Emulator(emulator_config()).running_in_thread() as emu,
        Viesus(API_KEY, emu.endpoint, poll_schedule=FAST_POLL) as viesus,
    ):
        upload = viesus.create_browser_upload(photo.name, photo.stat().st_size, "image/jpeg")
        put = httpx.put(upload.url, content=photo.read_bytes(), headers=upload.headers)
        assert put.status_code == 200
        made = viesus.enhance_upload(upload.upload_id, {"upscalingFactor": "X2"}, wait=True)
        assert made.job.finished
        assert viesus.enhance_upload(upload.upload_id, X2).adopted
        assert jobs(emu) == (1, 0)
