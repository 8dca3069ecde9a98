"""What the emulator keeps about an uploaded PDF: analysis state, the images found, limits.

Kept apart from the PDF library (``pikepdf`` is imported only by ``_pdf.scan`` and
``_pdf.rewrite``, inside threads): ``_store`` imports these records, and ``import
viesus_emulator`` stays as cheap as before.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Final

from viesus_emulator._pricing import COLOUR, RESTORATION, UPSCALING

ANALYZING: Final = "METADATA_ANALYZING"
ANALYZED: Final = "METADATA_ANALYZED_SUCCESSFULLY"
ANALYSIS_FAILED: Final = "METADATA_ANALYZED_FAILED"

PDF_MIMETYPE: Final = "application/pdf"

#: The credit features an embedded image can get (``_pricing``'s names), in this order.
FEATURES: Final = (COLOUR, RESTORATION, UPSCALING)


@dataclass(frozen=True)
class PdfLimits:
    """What the emulator agrees to analyse and rewrite [assumption: the service documents none].

    They protect the server: page and image counts bound the work, the pixel limits stop
    decompression bombs (an image's declared size is checked before a byte is inflated), and
    ``analysis_seconds`` bounds the time one analysis may take on the server.
    """

    max_pages: int = 500
    max_images: int = 2000
    #: Declared pixels of one embedded image (a 50 MP image is a 300 dpi A1 poster).
    max_image_pixels: int = 50_000_000
    #: Declared pixels of all distinct images together.
    max_total_pixels: int = 1_000_000_000
    #: Nesting of form XObjects followed when looking for images.
    max_form_depth: int = 8
    analysis_seconds: float = 60.0
    #: Real time one enhancement job may spend rewriting (checked between images).
    job_seconds: float = 1800.0


@dataclass(frozen=True)
class Eligibility:
    """The rule that decides which images an enhancement touches [assumption, stated in README].

    An image is *enhanceable* when the engine can round-trip it without changing what the page
    shows: an 8-bit RGB or greyscale image XObject (DeviceRGB/DeviceGray, CalRGB/CalGray, or
    ICCBased with 1 or 3 components), unfiltered, Flate- or DCT-compressed, without a /Decode
    array, and at least ``min_side`` px on both sides (smaller ones are icons and rules, not
    photos). CMYK, indexed, 1-bit, 16-bit, JPEG 2000, JBIG2 and image masks are counted but
    left as they are.
    - colour enhancement: enhanceable images in colour (3 components);
    - restoration: every enhanceable image;
    - upscaling: enhanceable images whose effective resolution at their largest placement on a
      page is below ``upscaling_below_ppi`` and whose longer side is at most
      ``max_upscaling_side`` (so that x4 stays within the documented 11,996 px output).
    """

    min_side: int = 64
    upscaling_below_ppi: float = 300.0
    max_upscaling_side: int = 2999


@dataclass(frozen=True)
class PdfImage:
    """One distinct raster image XObject drawn on the pages (however often it is drawn)."""

    #: qpdf's (object number, generation): the key to find it again when rewriting.
    objgen: tuple[int, int]
    width: int
    height: int
    #: 1-based page numbers it is drawn on.
    pages: tuple[int, ...]
    placements: int
    #: Lowest effective resolution over its placements (pixels per inch at placed size).
    min_ppi: float | None
    features: frozenset[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "pages": list(self.pages),
            "width": self.width,
            "height": self.height,
            "placements": self.placements,
            "effectivePpi": None if self.min_ppi is None else round(self.min_ppi, 1),
            "eligible": sorted(self.features),
        }


@dataclass(frozen=True)
class ScanResult:
    """What the analysis learned from one PDF."""

    pages: int
    images: tuple[PdfImage, ...]
    #: Inline images (BI ... ID ... EI in a content stream): counted, never enhanced.
    inline_images: int


class PdfProblem(Exception):
    """The PDF cannot be analysed or rewritten; ``code`` goes to ``metadata.error.code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class PdfRecord:
    """The PDF side of an ``UploadRecord`` (``upload.pdf``); owned by the server's loop."""

    sub_status: str = ANALYZING
    #: The analysis result (None until one succeeded; a re-run keeps the last good one out).
    scan: ScanResult | None = None
    #: ``metadata`` as GraphQL shows it (counts and estimates, or ``error``).
    metadata: dict[str, Any] | None = None
    #: How many analyses ran (analyzePdf re-runs count).
    runs: int = 0
    task: asyncio.Task[None] | None = field(default=None, repr=False, compare=False)
