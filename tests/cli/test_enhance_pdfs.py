"""PDF sources through ``viesus enhance``: priced by analysis, enhanced once, never paid twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Server, run_cli, write_photos

pdf_samples = pytest.importorskip("tests.pdf_samples")


@pytest.fixture
def book(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / "book.pdf"
    path.write_bytes(pdf_samples.photobook())
    return path


def test_a_pdf_is_priced_by_analysis_enhanced_and_skipped_on_rerun(
    server: Server, book: Path, tmp_path: Path
) -> None:
    dry = run_cli("enhance", str(book.parent), "--dry-run", "--json", env=server.env())
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["items"][0]["kind"] == "pdf"
    priced = plan["items"][0]["credits"]
    assert isinstance(priced, int)
    assert priced > 0

    before = server.stats()["credits"]["remaining"]
    run = run_cli("enhance", str(book.parent), "--out", str(tmp_path / "out"), env=server.env())
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out" / "book_enhanced.pdf").read_bytes().startswith(b"%PDF-")
    assert before - server.stats()["credits"]["remaining"] == priced

    jobs = server.stats()["jobs"]["total"]
    rerun = run_cli("enhance", str(book.parent), "--out", str(tmp_path / "out"), env=server.env())
    assert rerun.returncode == 0, rerun.stderr
    assert "1 already done" in rerun.stdout
    assert server.stats()["jobs"]["total"] == jobs


def test_pdfs_and_images_share_one_budget(server: Server, book: Path, tmp_path: Path) -> None:
    """Each part alone fits ``--max-credits``, together they do not: nothing is created."""
    write_photos(book.parent, 2)
    dry = run_cli("enhance", str(book.parent), "--dry-run", "--json", env=server.env())
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    pdf_price = sum(item["credits"] for item in plan["items"] if item["kind"] == "pdf")
    assert plan["estimated_credits"] > pdf_price + 1  # the two photos cost something too
    jobs = server.stats()["jobs"]["total"]

    run = run_cli(
        "enhance", str(book.parent), "--out", str(tmp_path / "out"), "--yes",
        "--max-credits", str(pdf_price + 1), env=server.env(),
    )  # fmt: skip

    assert run.returncode != 0
    assert server.stats()["jobs"]["total"] == jobs
    assert not (tmp_path / "out" / "book_enhanced.pdf").exists()
