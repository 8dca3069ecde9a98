"""The facade end to end against the emulator: results, request counts, no double charges."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from tests.facade.conftest import make_client, requests_for
from viesus import (
    AsyncViesus,
    BudgetExceeded,
    EnhanceOptions,
    EnhanceResult,
    InvalidInput,
    LimitExceeded,
)
from viesus_emulator import Emulator, FaultConfig

X2 = EnhanceOptions.model_validate({"upscalingFactor": "X2"})


async def collect(
    viesus: AsyncViesus, sources: list[Path], out: Path, **kw: object
) -> list[EnhanceResult]:
    return [r async for r in viesus.enhance_many(sources, X2, out, **kw)]  # type: ignore[arg-type]


async def test_enhance_one_file(
    viesus: AsyncViesus, emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    (photo,) = photos(1, (120, 80))
    result = await viesus.enhance(photo, X2, out_dir=tmp_path / "out")
    assert result.status == "finished"
    assert result.output_path == tmp_path / "out" / "photo000_enhanced.jpg"
    with Image.open(result.output_path) as image:
        assert image.size == (240, 160)
    assert result.credits == 4
    assert emulator.stats()["credits"]["used"] == 4


async def test_batch_creates_go_out_k_per_request(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    sources = photos(23)
    async with make_client(emulator, batch_size=10) as viesus:
        results = await collect(viesus, sources, tmp_path / "out")
    assert [r.status for r in results] == ["finished"] * 23
    assert requests_for(emulator, "CreateEnhancedImages") == math.ceil(23 / 10)
    # The free signed-upload steps carry a whole wave (up to 2 x batch_size) per request:
    # a first wave of one batch (10), then one of the other 13.
    assert requests_for(emulator, "CreateSignedUploadUrls") == 2
    assert requests_for(emulator, "CompleteSignedUploads") == 2
    assert emulator.stats()["jobs"]["total"] == 23
    assert len({r.output_path for r in results}) == 23


async def test_a_wave_of_signed_uploads_is_one_request_per_step_at_the_default_size(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    """A first wave of one batch (50), then one of 100: each signed step one request per
    wave, and no document refused (the whole upload record per confirmation did not fit the
    emulator's limit on fields at 100 and was refused and halved on every run)."""
    async with make_client(emulator) as viesus:
        results = await collect(viesus, photos(150, (16, 16)), tmp_path / "out")
    assert [r.status for r in results] == ["finished"] * 150
    assert requests_for(emulator, "CreateSignedUploadUrls") == 2
    assert requests_for(emulator, "CompleteSignedUploads") == 2
    assert "400" not in emulator.stats()["requests"]["by_status"]


async def test_many_jobs_are_polled_with_far_fewer_requests_than_jobs(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    sources = photos(200, (48, 32))
    async with make_client(emulator, batch_size=50, poll_batch_size=100) as viesus:
        results = await collect(viesus, sources, tmp_path / "out")
    assert all(r.status == "finished" for r in results)
    polls = requests_for(emulator, "PollEnhancedImages")
    total = emulator.stats()["requests"]["total"]
    assert 0 < polls < 200 / 4, polls
    assert total < 200 / 2, total  # every request of the run, uploads and downloads aside


async def test_lost_create_answers_never_pay_twice(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    emulator.faults = FaultConfig(
        lost_response=0.5, only_operations=frozenset({"CreateEnhancedImages"})
    )
    sources = photos(12)
    async with make_client(emulator, batch_size=3) as viesus:
        results = await collect(viesus, sources, tmp_path / "out")
        adopted = viesus.adopted
    stats = emulator.stats()
    assert stats["faults"].get("lost_response", 0) > 0
    assert adopted > 0
    assert [r.status for r in results] == ["finished"] * 12
    assert stats["jobs"]["duplicates"] == 0
    assert stats["jobs"]["total"] == 12
    assert stats["credits"]["used"] == 12 * 4


async def test_server_limit_on_root_fields_makes_batches_smaller(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    emulator.state.config.max_root_fields = 4
    async with make_client(emulator, batch_size=16) as viesus:
        results = await collect(viesus, photos(10), tmp_path / "out")
        assert viesus.batch.value == 4  # the limit the server announced, not 16 -> 8 -> 4
        poll_size = viesus.poller.batch_size
    assert all(r.status == "finished" for r in results)
    stats = emulator.stats()
    assert stats["jobs"]["duplicates"] == 0
    # One refused document per batch size (mutations, then polls if a poll ever carried more
    # than 4 jobs: head-of-queue polling may not), never again after.
    refused = stats["requests"]["by_status"].get("400")
    assert refused in (1, 2)
    assert poll_size == (4 if refused == 2 else 50)


async def test_limits_and_budget_are_checked_before_anything_is_spent(
    viesus: AsyncViesus, emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    big = photos(1, (3001, 20))[0]
    (result,) = await collect(viesus, [big], tmp_path / "out")
    assert result.status == "failed"
    assert isinstance(result.error, LimitExceeded)
    assert "3001" in str(result.error)
    assert "photo000.jpg" in str(result.error)
    with pytest.raises(BudgetExceeded, match="needs 8 credits"):
        await collect(viesus, photos(2), tmp_path / "out", max_credits=5)
    stats = emulator.stats()
    assert stats["uploads"]["total"] == 0
    assert stats["jobs"]["total"] == 0


async def test_existing_outputs_are_not_overwritten(
    viesus: AsyncViesus, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    (photo,) = photos(1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "photo000_enhanced.jpg").write_bytes(b"precious")
    (result,) = await collect(viesus, [photo], out)
    assert isinstance(result.error, InvalidInput)
    assert "overwrite" in str(result.error)
    assert (out / "photo000_enhanced.jpg").read_bytes() == b"precious"
    (again,) = await collect(viesus, [photo], out, overwrite=True)
    assert again.status == "finished"
    assert (out / "photo000_enhanced.jpg").read_bytes() != b"precious"


async def test_job_errors_are_results_not_exceptions(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    emulator.faults = FaultConfig(job_error_rate=1.0)
    async with make_client(emulator) as viesus:
        results = await collect(viesus, photos(3), tmp_path / "out")
    assert {r.status for r in results} == {"failed"}
    assert {r.reason for r in results} == {"PROCESSING_FAILED"}
    assert emulator.stats()["credits"]["used"] == 0


async def test_jobs_start_while_later_files_still_upload(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    """Waves: the first job is created before the last upload is (no wall-clock limit)."""
    async with make_client(emulator, batch_size=2) as viesus:  # waves of 8 files
        results = await collect(viesus, photos(20), tmp_path / "out")
    assert all(r.status == "finished" for r in results)
    store = emulator.state.store
    first_job = min(job.created_at for job in store.jobs.values())
    last_upload = max(upload.created_at for upload in store.uploads.values())
    assert first_job < last_upload
