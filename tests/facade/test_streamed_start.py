"""A batch over several check chunks starts its first create before its last file is read
(issue 11), and still never spends beyond its budget.

The waves take each checked chunk as it comes only when the batch fits the budget at its
most (every source that may be created counted at the parameter table's price). Otherwise,
and whenever a PDF must be priced first, every check finishes before the exact budget check,
as before. A PDF found by its content in a streamed batch (a file named like an image) is
priced by its analysis after the images started, and refused on its own if it does not fit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

import viesus._pipeline._prepare as prepare
import viesus._pipeline._tuning as tuning
from tests.facade.conftest import make_client, requests_for
from tests.facade.test_pdf_batch import IMAGE_X2, PDF_X2, book, run
from viesus import BudgetExceeded
from viesus._image_headers import ImageHeader, read_image_header
from viesus_emulator import Emulator

CHUNK = 4  # sources checked per worker-thread trip in these tests (64 by default)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tuning, "PREPARE_CHUNK", CHUNK)


def uploads_sent(emu: Emulator) -> int:
    return requests_for(emu, "CreateSignedUploadUrls") + requests_for(emu, "CreateUploadsFromUrl")


async def test_the_first_create_goes_out_before_the_last_header_is_read(
    emulator: Emulator,
    photos: Callable[..., list[Path]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sources = photos(3 * CHUNK)
    read = read_image_header
    seen_job_first: list[bool] = []

    def last_waits_for_a_job(path: Path) -> ImageHeader:
        if path == sources[-1]:  # read in a worker thread: the event loop goes on meanwhile
            deadline = time.monotonic() + 30
            while emulator.stats()["jobs"]["total"] == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            seen_job_first.append(emulator.stats()["jobs"]["total"] > 0)
        return read(path)

    monkeypatch.setattr(prepare, "read_image_header", last_waits_for_a_job)
    async with make_client(emulator, batch_size=2) as viesus:
        results = await run(viesus, sources, tmp_path / "out")

    assert seen_job_first == [True]
    assert sorted(r.source for r in results if r.ok) == sorted(map(str, sources))
    assert emulator.stats()["credits"]["charged"] == IMAGE_X2 * len(sources)


async def test_over_budget_at_its_most_it_waits_for_every_check_and_prices_exactly(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    sources = photos(3 * CHUNK)
    unreadable = [tmp_path / "in" / f"broken{i}.jpg" for i in range(CHUNK)]
    for path in unreadable:
        path.write_bytes(b"not an image")
    everything = [*unreadable, *sources]  # the bound counts them; the exact cost does not

    async with make_client(emulator, batch_size=2) as viesus:
        results = await run(
            viesus, everything, tmp_path / "out", max_credits=IMAGE_X2 * len(sources)
        )

    assert sum(r.ok for r in results) == len(sources)
    assert {r.source for r in results if not r.ok} == set(map(str, unreadable))
    assert emulator.stats()["credits"]["charged"] == IMAGE_X2 * len(sources)


async def test_over_budget_exactly_nothing_is_uploaded_or_created(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    sources = photos(3 * CHUNK)

    async with make_client(emulator, batch_size=2) as viesus:
        with pytest.raises(BudgetExceeded) as caught:
            await run(viesus, sources, tmp_path / "out", max_credits=IMAGE_X2 * len(sources) - 1)

    assert caught.value.needed == IMAGE_X2 * len(sources)
    assert uploads_sent(emulator) == 0
    assert emulator.stats()["jobs"]["total"] == 0


async def test_a_pdf_named_like_an_image_is_priced_late_and_enhanced_when_it_fits(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    sources = photos(2 * CHUNK)
    disguised = book(tmp_path / "in", "scan.jpg")

    async with make_client(emulator, batch_size=2) as viesus:
        results = await run(viesus, [disguised, *sources], tmp_path / "out")

    assert all(r.ok for r in results), [r.reason for r in results]
    pdf = next(r for r in results if r.source == str(disguised))
    assert pdf.credits == PDF_X2
    assert pdf.output_path is not None
    assert pdf.output_path.read_bytes().startswith(b"%PDF-")
    assert emulator.stats()["credits"]["charged"] == IMAGE_X2 * len(sources) + PDF_X2


async def test_a_pdf_named_like_an_image_that_breaks_the_budget_is_refused_alone_and_free(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    sources = photos(2 * CHUNK)
    disguised = book(tmp_path / "in", "scan.jpg")
    cap = IMAGE_X2 * (len(sources) + 1)  # the bound fits (the PDF counted as an image)
    assert PDF_X2 > IMAGE_X2

    async with make_client(emulator, batch_size=2) as viesus:
        results = await run(viesus, [disguised, *sources], tmp_path / "out", max_credits=cap)

    refused = [r for r in results if not r.ok]
    assert [r.source for r in refused] == [str(disguised)]
    assert isinstance(refused[0].error, BudgetExceeded)
    assert str(disguised) in str(refused[0].error)
    assert "max_credits" in str(refused[0].error)
    assert sum(r.ok for r in results) == len(sources)
    assert emulator.stats()["credits"]["charged"] == IMAGE_X2 * len(sources) <= cap


async def test_many_checks_in_flight_lose_no_result_when_a_chunk_is_refused_whole(
    emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    sources = photos(2 * CHUNK)
    missing = [tmp_path / "in" / f"gone{i}.jpg" for i in range(CHUNK)]
    everything = [*sources[:CHUNK], *missing, *sources[CHUNK:]]

    async with make_client(emulator, batch_size=3) as viesus:
        results = await run(viesus, everything, tmp_path / "out")

    assert sorted(r.source for r in results) == sorted(map(str, everything))
    assert {r.source for r in results if not r.ok} == set(map(str, missing))
    assert all("no such file" in (r.reason or "") for r in results if not r.ok)
