"""``viesus pdf analyze`` and the PDF lines of ``viesus enhance --dry-run``, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Server, run_cli

pdf_samples = pytest.importorskip("tests.pdf_samples")
PHOTOBOOK = pdf_samples.PHOTOBOOK


@pytest.fixture
def book(tmp_path: Path) -> Path:
    path = tmp_path / "book.pdf"
    path.write_bytes(pdf_samples.photobook())
    return path


def mutations(server: Server) -> dict[str, int]:
    fields: dict[str, int] = server.stats()["requests"]["by_root_field"]
    return {
        name: count
        for name, count in fields.items()
        if name in {"createEnhancedImage", "createSignedUploadUrl", "analyzePdf"}
    }


def test_pdf_analyze_prints_the_counts_and_estimates(server: Server, book: Path) -> None:
    jobs = server.stats()["jobs"]["total"]
    result = run_cli("pdf", "analyze", str(book), "--json", env=server.env())
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["source"] == str(book)
    assert (data["pages"], data["images"], data["placements"]) == (
        PHOTOBOOK.pages,
        PHOTOBOOK.total_images,
        PHOTOBOOK.placements,
    )
    assert (
        data["eligible_colour"],
        data["eligible_restoration"],
        data["eligible_upscaling"],
    ) == (PHOTOBOOK.colour, PHOTOBOOK.restoration, PHOTOBOOK.upscaling)
    assert data["total_credits"] == PHOTOBOOK.colour
    assert data["estimated_credits"]["upscaling"] == 4 * PHOTOBOOK.upscaling

    text = run_cli("pdf", "analyze", str(book), env=server.env())
    assert text.returncode == 0, text.stderr
    assert f"images                {PHOTOBOOK.total_images}" in text.stdout
    assert f"upscaling: {4 * PHOTOBOOK.upscaling} credits" in text.stdout
    assert server.stats()["jobs"]["total"] == jobs  # nothing created


def test_pdf_analyze_of_a_damaged_pdf_fails_in_one_line_naming_it(
    server: Server, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(pdf_samples.damaged())
    result = run_cli("pdf", "analyze", str(broken), env=server.env())
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert str(broken) in result.stderr
    assert "PDF_DAMAGED" in result.stderr


def test_enhance_dry_run_shows_pages_images_eligible_counts_and_the_estimate(
    server: Server, book: Path, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.jpg"
    pdf_samples.photo(96, 64, 7).save(photo, "JPEG")
    before = mutations(server)

    text = run_cli(
        "enhance", str(book), str(photo), "--dry-run", "--upscaling-factor", "X2", env=server.env()
    )
    assert text.returncode == 0, text.stderr
    expected = (
        f"{PHOTOBOOK.pages} pages, {PHOTOBOOK.total_images} images; eligible: colour "
        f"{PHOTOBOOK.colour}, restoration {PHOTOBOOK.restoration}, upscaling "
        f"{PHOTOBOOK.upscaling}; estimate {4 * PHOTOBOOK.upscaling} credits"
    )
    assert expected in text.stdout
    assert f"estimated credits {4 * PHOTOBOOK.upscaling + 4}" in text.stdout

    dry = run_cli("enhance", str(book), "--dry-run", "--json", env=server.env())
    assert dry.returncode == 0, dry.stderr
    (item,) = json.loads(dry.stdout)["items"]
    assert item["pdf"]["images"] == PHOTOBOOK.total_images
    assert item["pdf"]["estimate_for_options"] == item["credits"] == PHOTOBOOK.colour

    after = mutations(server)
    # The PDF was uploaded (free) for its analysis; the image got no mutation; nothing created.
    assert after.get("createEnhancedImage", 0) == before.get("createEnhancedImage", 0)
    assert after["createSignedUploadUrl"] - before.get("createSignedUploadUrl", 0) == 2


def test_the_before_after_sheet_shows_a_pdf_as_its_first_page(book: Path, tmp_path: Path) -> None:
    from PIL import Image

    from viesus._cli.compare import ROW_HEIGHT, contact_sheet

    after = tmp_path / "book_enhanced.pdf"
    after.write_bytes(book.read_bytes())
    sheet = contact_sheet([(str(book), after)], tmp_path / "sheet.png")
    with Image.open(sheet) as drawn:
        # One row: two US-letter pages (612 x 792 pt) scaled to the row height, side by side.
        page_width = round(612 * ROW_HEIGHT / 792)
        assert drawn.width == 2 * page_width + 3 * 8
        assert drawn.height > ROW_HEIGHT
