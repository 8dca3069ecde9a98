"""The enhancement of a PDF: every eligible embedded image through the single-image engine."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from viesus_emulator import _codes as codes
from viesus_emulator._engine import ImageInfo, enhance, processing_seconds
from viesus_emulator._pdf.pixels import engine_input, read_pixels, write_back
from viesus_emulator._pdf.pricing import image_params
from viesus_emulator._pdf.records import PdfProblem, ScanResult
from viesus_emulator._pdf.scan import open_pdf

#: [assumption] A PDF job's modelled time is the sum of its images' modelled times (the
#: service processes them one by one), at least the documented 2 s, at most half an hour.
MIN_PDF_SECONDS = 2.0
MAX_PDF_SECONDS = 1800.0


@dataclass(frozen=True)
class Rewritten:
    images_changed: int
    pages: int


def modelled_seconds(scan: ScanResult, params: Mapping[str, Any]) -> float:
    total = 0.0
    for image in scan.images:
        applied = image_params(image, params)
        if applied is not None:
            info = ImageInfo("PNG", "image/png", "png", image.width, image.height)
            total += processing_seconds(info, applied)
    return min(MAX_PDF_SECONDS, max(MIN_PDF_SECONDS, total))


def rewrite(
    source: Path,
    dest: Path,
    scan: ScanResult,
    params: Mapping[str, Any],
    seed: int,
    seconds: float = MAX_PDF_SECONDS,
) -> Rewritten:
    """Write the enhanced copy of ``source`` to ``dest``; raises PdfProblem or EngineError.

    ``seconds`` bounds the real time, checked before each image (an engine call in progress
    cannot be interrupted): beyond it the job fails with PDF_PROCESSING_TIMEOUT.
    """
    import pikepdf

    deadline = time.monotonic() + seconds
    changed = 0
    with open_pdf(source) as pdf:
        try:
            for image in scan.images:
                applied = image_params(image, params)
                if applied is None:
                    continue
                if time.monotonic() > deadline:
                    raise PdfProblem(
                        codes.PDF_PROCESSING_TIMEOUT,
                        f"enhancing the PDF's images took longer than {seconds:g} s",
                    )
                obj = pdf.get_object(image.objgen)
                pixels = read_pixels(obj)
                result = enhance(engine_input(obj, pixels), applied, seed=seed)
                pixels.close()
                write_back(obj, result.data, result.format)
                changed += 1
            pdf.save(dest)
        except (pikepdf.PdfError, ValueError, KeyError, AttributeError, TypeError) as exc:
            raise PdfProblem(
                codes.PDF_DAMAGED, f"the PDF could not be rewritten ({type(exc).__name__})"
            ) from exc
        pages = len(pdf.pages)
    return Rewritten(images_changed=changed, pages=pages)
