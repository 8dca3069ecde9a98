"""PDFs (photobooks) through ``enhance_many``, next to images, against the emulator's real PDFs.

The issue's list: the enhanced PDF has the same pages and text with each eligible image x2,
credits charged = the analysed estimate, a damaged PDF ends as a typed error naming the file,
over budget is refused before any create, and a batch killed during the analysis resumes
without a second upload (counted at the emulator).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.emulator.peer import running_peer
from tests.facade.conftest import make_client, requests_for
from tests.pdf_samples import PHOTOBOOK, TEXTS, damaged, images_by_name, page_texts, photobook
from viesus import (
    AsyncViesus,
    BudgetExceeded,
    EnhanceOptions,
    EnhanceResult,
    Journal,
    PdfAnalysisFailed,
)
from viesus._journal.states import ItemState
from viesus_emulator import Emulator
from viesus_emulator._pdf.records import ANALYZING

X2 = EnhanceOptions(upscaling_factor="X2")
IMAGE_X2 = 4  # what the parameter table charges an image for X2 (the emulator agrees)
PDF_X2 = IMAGE_X2 * PHOTOBOOK.upscaling  # the analysed estimate of the photobook for X2


def root_fields(emu: Emulator) -> dict[str, int]:
    fields: dict[str, int] = emu.stats()["requests"]["by_root_field"]
    return fields


def book(folder: Path, name: str = "book.pdf", data: bytes | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(photobook() if data is None else data)
    return path


async def run(
    viesus: AsyncViesus, sources: list[Path], out: Path, **kwargs: object
) -> list[EnhanceResult]:
    return [r async for r in viesus.enhance_many(sources, X2, out, **kwargs)]  # type: ignore[arg-type]


async def test_pdfs_and_images_in_one_batch_are_enhanced_and_charged_their_estimates(
    viesus: AsyncViesus, emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    images = photos(2)
    pdfs = [book(tmp_path / "in", "book.pdf"), book(tmp_path / "in", "album.pdf")]
    out, journal = tmp_path / "out", tmp_path / "journal.sqlite"

    results = await run(viesus, [pdfs[0], *images, pdfs[1]], out, journal=journal)

    assert all(r.ok for r in results), [r.reason for r in results]
    by_source = {Path(r.source).name: r for r in results}
    for name in ("book", "album"):
        result = by_source[f"{name}.pdf"]
        assert result.output_path == out / f"{name}_enhanced.pdf"
        assert result.credits == PDF_X2
        enhanced = result.output_path.read_bytes()
        assert page_texts(enhanced) == list(TEXTS)  # same pages, same text
        before, after = images_by_name(pdfs[0].read_bytes()), images_by_name(enhanced)
        assert before.keys() == after.keys()
        for image, picture in before.items():
            factor = 2 if image in {"/Beach", "/Grey", "/Friends"} else 1  # below 300 ppi
            assert after[image].size == (picture.width * factor, picture.height * factor)
    assert {by_source[p.name].credits for p in images} == {IMAGE_X2}
    stats = emulator.stats()
    assert stats["credits"]["charged"] == sum(r.credits or 0 for r in results)
    assert stats["credits"]["charged"] == 2 * PDF_X2 + 2 * IMAGE_X2
    assert stats["jobs"]["total"] == 4
    assert stats["jobs"]["duplicates"] == 0
    # The two analyses were awaited together: the first read carried both PDFs.
    assert root_fields(emulator)["upload"] > requests_for(emulator, "GetPdfAnalyses")
    with Journal.open(journal) as opened:
        records = {Path(r.source).name: r for r in opened.records()}
    assert records["book.pdf"].state is ItemState.DOWNLOADED
    assert records["book.pdf"].credits == PDF_X2


async def test_a_damaged_pdf_fails_with_a_typed_error_naming_it_and_the_batch_goes_on(
    viesus: AsyncViesus, emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    (image,) = photos(1)
    broken = book(tmp_path / "in", "broken.pdf", damaged())
    out, journal = tmp_path / "out", tmp_path / "journal.sqlite"

    results = await run(viesus, [broken, image], out, journal=journal)

    failed = next(r for r in results if r.source == str(broken))
    assert isinstance(failed.error, PdfAnalysisFailed)
    assert str(broken) in str(failed.error)
    assert failed.error.error_code == "PDF_DAMAGED"
    assert next(r for r in results if r.source == str(image)).ok
    fields = root_fields(emulator)
    assert fields["analyzePdf"] == 1  # re-triggered once
    assert fields["createEnhancedImage"] == 1  # the image's only
    assert emulator.stats()["credits"]["charged"] == IMAGE_X2
    with Journal.open(journal) as opened:
        states = {Path(r.source).name: r.state for r in opened.records()}
    assert states["broken.pdf"] is ItemState.FAILED  # free; a rerun uploads it anew


async def test_a_batch_over_budget_with_its_pdf_is_refused_before_any_create(
    viesus: AsyncViesus, emulator: Emulator, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    (image,) = photos(1)
    pdf = book(tmp_path / "in")
    with pytest.raises(BudgetExceeded) as caught:
        await run(viesus, [image, pdf], tmp_path / "out", max_credits=PDF_X2 + IMAGE_X2 - 1)
    assert (caught.value.needed, caught.value.budget) == (
        PDF_X2 + IMAGE_X2,
        PDF_X2 + IMAGE_X2 - 1,
    )
    assert root_fields(emulator).get("createEnhancedImage", 0) == 0
    assert emulator.stats()["credits"]["charged"] == 0
    assert not list((tmp_path / "out").glob("*_enhanced.*"))


async def test_killed_during_the_analysis_a_rerun_sends_no_second_upload(
    emulator: Emulator, tmp_path: Path
) -> None:
    pdf = book(tmp_path / "in")
    out, journal = tmp_path / "out", tmp_path / "journal.sqlite"
    emulator.state.config.time_scale = 1.0  # the analysis lasts about 1.7 s: time to stop it

    async def first_run() -> None:
        async with make_client(emulator) as viesus:
            await run(viesus, [pdf], out, journal=journal)

    task = asyncio.create_task(first_run())
    # The client reads the analysis only after its upload is journalled.
    while requests_for(emulator, "GetPdfAnalyses") < 1:  # noqa: ASYNC110
        await asyncio.sleep(0.005)  # the emulator's counter has no event to wait on
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    (upload,) = emulator.state.store.uploads.values()
    assert upload.pdf is not None
    assert upload.pdf.sub_status == ANALYZING  # stopped during the analysis
    with Journal.open(journal) as opened:
        (record,) = opened.records()
    assert record.state is ItemState.UPLOADED  # journalled before the wait

    emulator.state.config.time_scale = 0.01
    async with make_client(emulator) as viesus:
        (result,) = await run(viesus, [pdf], out, journal=journal)
    assert result.ok, result.reason
    assert result.upload_id == record.upload_id
    stats = emulator.stats()
    assert stats["uploads"]["total"] == 1
    assert root_fields(emulator)["createSignedUploadUrl"] == 1
    assert stats["jobs"]["total"] == 1
    assert stats["jobs"]["duplicates"] == 0
    assert stats["credits"]["charged"] == result.credits == PDF_X2

    # Once done, a rerun asks the server nothing.
    before = stats["requests"]["total"]
    async with make_client(emulator) as viesus:
        (again,) = await run(viesus, [pdf], out, journal=journal)
    assert again.status == "skipped"
    assert emulator.stats()["requests"]["total"] == before


async def test_an_analysed_pdf_is_created_from_its_journalled_estimate_without_asking_again(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Stopped after the analysis (``analyzed``, estimate journalled), before the create: the
    rerun neither uploads nor reads the analysis again, and is charged that estimate."""
    pdf = book(tmp_path / "in")
    out, journal = tmp_path / "out", tmp_path / "journal.sqlite"
    async with make_client(emulator) as viesus:
        with pytest.raises(BudgetExceeded):  # priced, then refused before any create
            await run(viesus, [pdf], out, journal=journal, max_credits=1)
    with Journal.open(journal) as opened:
        (record,) = opened.records()
    assert (record.state, record.credits) == (ItemState.ANALYZED, PDF_X2)
    reads = requests_for(emulator, "GetPdfAnalyses")

    async with make_client(emulator) as viesus:
        (result,) = await run(viesus, [pdf], out, journal=journal)
    assert result.ok, result.reason
    assert requests_for(emulator, "GetPdfAnalyses") == reads
    assert emulator.stats()["uploads"]["total"] == 1
    assert emulator.stats()["credits"]["charged"] == PDF_X2


async def test_pdf_urls_are_analysed_and_a_pdf_behind_another_name_is_refused_free(
    viesus: AsyncViesus, emulator: Emulator, tmp_path: Path
) -> None:
    async with running_peer() as peer:
        named = peer.add_file("album.pdf", photobook(), "application/pdf")
        unnamed = peer.add_file("album-download", photobook(), "application/pdf")
        results = [r async for r in viesus.enhance_many([named, unnamed], X2, tmp_path / "out")]
    by_source = {r.source: r for r in results}
    assert by_source[named].ok, by_source[named].reason
    assert by_source[named].output_path == tmp_path / "out" / "album_enhanced.pdf"
    refused = by_source[unnamed]
    assert refused.error is not None
    assert "album-download" in str(refused.error)
    assert "ending in .pdf" in str(refused.error)
    assert emulator.stats()["jobs"]["total"] == 1
    assert emulator.stats()["credits"]["charged"] == PDF_X2
