"""A shared batch refuses PDFs before anything is sent: it budgets one price per
item, and a PDF costs what its analysis says (money fails closed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.pdf_samples import photobook
from viesus import AsyncViesus, EnhanceOptions, InvalidInput, SharedBatch
from viesus_emulator import Emulator


async def test_a_shared_batch_refuses_a_pdf_before_anything_is_queued_or_sent(
    viesus: AsyncViesus,
    emulator: Emulator,
    photos: Callable[[int], list[Path]],
    tmp_path: Path,
    pg_dsn: str,
) -> None:
    book = tmp_path / "book.pdf"
    book.write_bytes(photobook())
    sources = [*photos(1), book]
    with pytest.raises(InvalidInput, match=r"book\.pdf.*enhance_many without batch="):
        async for _ in viesus.enhance_many(
            sources,
            EnhanceOptions(upscaling_factor="X2"),
            tmp_path / "out",
            journal=pg_dsn,
            batch=SharedBatch("b", worker_id="w1"),
        ):
            pass
    assert emulator.stats()["requests"]["total"] == 0  # not even the uploads
