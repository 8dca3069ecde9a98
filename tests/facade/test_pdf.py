"""``AsyncViesus.analyze_pdf`` and ``enhance_pdf`` against the emulator's real PDF support."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from tests.facade.conftest import make_client
from tests.pdf_samples import (
    PHOTOBOOK,
    TEXTS,
    damaged,
    images_by_name,
    page_texts,
    photobook,
    render_page,
)
from viesus import (
    AsyncViesus,
    BudgetExceeded,
    EnhanceOptions,
    InvalidInput,
    PdfAnalysis,
    PdfAnalysisFailed,
)
from viesus_emulator import Emulator, FaultConfig
from viesus_emulator._pdf.records import ANALYSIS_FAILED, PdfLimits

X2 = EnhanceOptions(upscaling_factor="X2")


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def root_fields(emu: Emulator) -> dict[str, int]:
    fields: dict[str, int] = emu.stats()["requests"]["by_root_field"]
    return fields


async def test_analyze_pdf_reports_what_is_embedded(
    viesus: AsyncViesus, emulator: Emulator, tmp_path: Path
) -> None:
    data = photobook()
    analysis = await viesus.analyze_pdf(write(tmp_path, "book.pdf", data))

    assert isinstance(analysis, PdfAnalysis)
    assert analysis.source.endswith("book.pdf")
    assert analysis.sub_status == "METADATA_ANALYZED_SUCCESSFULLY"
    stats = analysis.statistics
    assert stats.total_images == len(images_by_name(data)) == PHOTOBOOK.total_images
    assert stats.pages == PHOTOBOOK.pages
    assert (stats.colour_images, stats.restoration_images, stats.upscaling_images) == (
        PHOTOBOOK.colour,
        PHOTOBOOK.restoration,
        PHOTOBOOK.upscaling,
    )
    assert analysis.total_credits == analysis.credits_for(None) == PHOTOBOOK.colour
    assert analysis.credits_for(X2) == 4 * PHOTOBOOK.upscaling
    # The raw metadata is kept exactly as the server sent it.
    server = emulator.state.store.uploads[analysis.upload_id].pdf
    assert server is not None
    assert analysis.metadata == server.metadata
    assert root_fields(emulator).get("createEnhancedImage", 0) == 0


def test_the_model_tolerates_unknown_keys_and_odd_values() -> None:
    metadata = {
        "statistics": {"totalImages": 7, "somethingNew": [1, 2]},
        "totalCredits": 78,
        "futureKey": {"x": 1},
        "estimatedCredits": {"colour": 78, "upscaling": "n/a"},
    }
    analysis = PdfAnalysis.from_metadata("a.pdf", "u1", "METADATA_ANALYZED_SUCCESSFULLY", metadata)
    assert analysis.statistics.total_images == 7
    assert analysis.statistics.model_extra == {"somethingNew": [1, 2]}
    assert analysis.total_credits == 78
    assert analysis.estimated_credits == {"colour": 78}  # a non-number is not an estimate
    assert analysis.credits_for(X2) is None
    assert analysis.metadata["futureKey"] == {"x": 1}

    odd = PdfAnalysis.from_metadata(
        "a.pdf", "u1", "METADATA_ANALYZED_SUCCESSFULLY", {"statistics": {"pages": "many"}}
    )
    assert odd.statistics.pages is None
    assert odd.metadata == {"statistics": {"pages": "many"}}


async def test_enhance_pdf_doubles_eligible_images_and_charges_the_estimate(
    viesus: AsyncViesus, emulator: Emulator, tmp_path: Path
) -> None:
    source = write(tmp_path, "book.pdf", photobook())
    charged_before = emulator.stats()["credits"]["charged"]

    result = await viesus.enhance_pdf(source, X2, tmp_path / "out", max_credits=12)

    assert result.status == "finished"
    assert result.output_path == tmp_path / "out" / "book_enhanced.pdf"
    enhanced = result.output_path.read_bytes()
    assert page_texts(enhanced) == list(TEXTS)
    before, after = images_by_name(source.read_bytes()), images_by_name(enhanced)
    for name, image in before.items():
        factor = 2 if name in {"/Beach", "/Grey", "/Friends"} else 1  # below 300 ppi
        assert after[name].size == (image.width * factor, image.height * factor), name
    charged = emulator.stats()["credits"]["charged"] - charged_before
    assert charged == result.credits == 4 * PHOTOBOOK.upscaling
    assert emulator.stats()["jobs"]["total"] == 1


async def test_the_default_enhancement_shows_on_the_rendered_page(
    viesus: AsyncViesus, tmp_path: Path
) -> None:
    source = write(tmp_path, "book.pdf", photobook())
    result = await viesus.enhance_pdf(source, None, tmp_path / "out")
    assert result.output_path is not None
    before = np.asarray(render_page(source.read_bytes(), 0), dtype=np.int16)
    after = np.asarray(render_page(result.output_path.read_bytes(), 0), dtype=np.int16)
    assert before.shape == after.shape  # same page size
    # Page 1 (612x792 pt at 72 dpi): the title near the top, the photo at x 72-312, y 212-392.
    title = (slice(20, 45), slice(60, 400))
    photo = (slice(220, 385), slice(80, 305))
    assert np.array_equal(before[title], after[title])
    assert np.abs(before[photo] - after[photo]).mean() > 2.0


async def test_a_damaged_pdf_is_retriggered_once_then_a_typed_error_names_it(
    viesus: AsyncViesus, emulator: Emulator, tmp_path: Path
) -> None:
    source = write(tmp_path, "broken.pdf", damaged())
    with pytest.raises(PdfAnalysisFailed) as caught:
        await viesus.analyze_pdf(source)
    assert str(source) in str(caught.value)
    assert caught.value.error_code == "PDF_DAMAGED"
    fields = root_fields(emulator)
    assert fields["analyzePdf"] == 1
    assert fields["createSignedUploadUrl"] == 1
    assert fields.get("createEnhancedImage", 0) == 0


async def test_a_failed_analysis_that_succeeds_when_retriggered(
    viesus: AsyncViesus, emulator: Emulator, tmp_path: Path
) -> None:
    analyses = emulator.state.workers.pdf
    analyses.limits = PdfLimits(max_pages=1)  # the first analysis fails

    async def lift_the_limit_after_the_failure() -> None:
        while not any(  # noqa: ASYNC110 - watches the server's records: no event to await
            u.pdf is not None and u.pdf.sub_status == ANALYSIS_FAILED
            for u in emulator.state.store.uploads.values()
        ):
            await asyncio.sleep(0.005)
        analyses.limits = PdfLimits()

    lifter = asyncio.create_task(lift_the_limit_after_the_failure())
    analysis = await viesus.analyze_pdf(write(tmp_path, "book.pdf", photobook()))
    await lifter
    assert analysis.statistics.total_images == PHOTOBOOK.total_images
    record = emulator.state.store.uploads[analysis.upload_id].pdf
    assert record is not None
    assert record.runs == 2


async def test_over_budget_is_refused_before_any_create(
    viesus: AsyncViesus, emulator: Emulator, tmp_path: Path
) -> None:
    source = write(tmp_path, "book.pdf", photobook())
    with pytest.raises(BudgetExceeded) as caught:
        await viesus.enhance_pdf(source, X2, tmp_path / "out", max_credits=11)
    assert (caught.value.needed, caught.value.budget) == (12, 11)
    assert root_fields(emulator).get("createEnhancedImage", 0) == 0
    assert emulator.stats()["credits"]["charged"] == 0
    assert list((tmp_path / "out").iterdir()) == []


async def test_inputs_are_checked_before_anything_is_uploaded(
    viesus: AsyncViesus, emulator: Emulator, tmp_path: Path
) -> None:
    not_pdf = write(tmp_path, "photo.pdf", b"\xff\xd8\xff not a pdf")
    with pytest.raises(InvalidInput, match=r"photo\.pdf"):
        await viesus.analyze_pdf(not_pdf)
    book = write(tmp_path, "book.pdf", photobook())
    blur = EnhanceOptions.model_validate({"backgroundRemovalMode": "BLUR"})
    with pytest.raises(InvalidInput, match="backgroundRemovalMode"):
        await viesus.enhance_pdf(book, blur, tmp_path)
    (tmp_path / "book_enhanced.pdf").write_bytes(b"keep me")
    with pytest.raises(InvalidInput, match="overwrite=True"):
        await viesus.enhance_pdf(book, None, tmp_path)
    assert (tmp_path / "book_enhanced.pdf").read_bytes() == b"keep me"
    assert emulator.stats()["uploads"]["total"] == 0


async def test_a_lost_create_answer_adopts_the_job_instead_of_paying_twice(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.faults = FaultConfig(
        lost_response=1.0, only_operations=frozenset({"CreateEnhancedImages"})
    )
    source = write(tmp_path, "book.pdf", photobook())
    async with make_client(emulator) as client:
        result = await client.enhance_pdf(source, None, tmp_path / "out")
        assert client.adopted == 1
    assert result.status == "finished"
    stats = emulator.stats()
    assert stats["jobs"]["total"] == 1
    assert stats["credits"]["charged"] == PHOTOBOOK.colour
