"""The analysis of an uploaded PDF: open it, find every raster image drawn on its pages."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from viesus_emulator import _codes as codes
from viesus_emulator._pdf.pixels import components, enhanceable_reason, read_pixels
from viesus_emulator._pdf.records import (
    Eligibility,
    PdfImage,
    PdfLimits,
    PdfProblem,
    ScanResult,
)
from viesus_emulator._pricing import COLOUR, RESTORATION, UPSCALING

if TYPE_CHECKING:
    import pikepdf

#: A 2-D affine matrix (a, b, c, d, e, f) in the PDF's row-vector convention.
Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
POINTS_PER_INCH = 72.0


def multiply(first: Matrix, then: Matrix) -> Matrix:
    """``first`` applied, then ``then`` (PDF: ``cm`` M gives CTM' = M x CTM)."""
    a, b, c, d, e, f = first
    a2, b2, c2, d2, e2, f2 = then
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )


@dataclass
class _Found:
    obj: pikepdf.Object
    pages: set[int] = field(default_factory=set)
    placements: int = 0
    min_ppi: float | None = None


class _Walker:
    def __init__(self, limits: PdfLimits, deadline: float) -> None:
        self.limits = limits
        self.deadline = deadline
        self.images: dict[tuple[int, int], _Found] = {}
        self.inline_images = 0

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise PdfProblem(
                codes.PDF_ANALYSIS_TIMEOUT,
                f"the analysis took longer than {self.limits.analysis_seconds:g} s",
            )

    def walk(
        self,
        number: int,
        content: pikepdf.Object | pikepdf.Page,
        resources: pikepdf.Object | None,
        ctm: Matrix,
        forms: tuple[tuple[int, int], ...] = (),
    ) -> None:
        import pikepdf

        self.check_time()
        stack: list[Matrix] = []
        xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
        if not isinstance(xobjects, pikepdf.Dictionary):
            xobjects = None
        for instruction in pikepdf.parse_content_stream(content, "q Q cm Do BI ID EI"):
            operator = str(instruction.operator)
            if operator == "INLINE IMAGE":
                self.inline_images += 1
            elif operator == "q":
                stack.append(ctm)
            elif operator == "Q":
                ctm = stack.pop() if stack else ctm
            elif operator == "cm":
                try:
                    operands = [float(value) for value in instruction.operands]
                except (TypeError, ValueError):
                    continue  # a malformed cm: viewers ignore it, so does the analysis
                if len(operands) == 6:
                    ctm = multiply((*operands,), ctm)  # type: ignore[arg-type]
            elif operator == "Do":
                name = instruction.operands[0] if instruction.operands else None
                target = None
                if xobjects is not None and isinstance(name, pikepdf.Name):
                    target = xobjects.get(name)
                if not isinstance(target, pikepdf.Stream):
                    # What a truncated file looks like after qpdf's repair: the page still
                    # draws an object that is gone. A photobook missing a photo is damaged.
                    raise PdfProblem(
                        codes.PDF_DAMAGED,
                        f"page {number} draws {name}, which is missing (truncated or damaged file)",
                    )
                self._draw(number, target, resources, ctm, forms)

    def _draw(
        self,
        number: int,
        target: pikepdf.Stream,
        resources: pikepdf.Object | None,
        ctm: Matrix,
        forms: tuple[tuple[int, int], ...],
    ) -> None:
        subtype = str(target.get("/Subtype"))
        if subtype == "/Image":
            self._place(number, target, ctm)
        elif subtype == "/Form":
            key = target.objgen
            if key in forms or len(forms) >= self.limits.max_form_depth:
                return  # a cycle, or nested deeper than we follow: nothing drawn from it
            matrix = target.get("/Matrix")
            form_matrix = IDENTITY
            if matrix is not None and len(matrix) == 6:
                form_matrix = tuple(float(value) for value in matrix)  # type: ignore[assignment]
            inner = target.get("/Resources") or resources  # old PDFs inherit the page's
            self.walk(number, target, inner, multiply(form_matrix, ctm), (*forms, key))

    def _place(self, number: int, image: pikepdf.Stream, ctm: Matrix) -> None:
        key = image.objgen
        found = self.images.get(key)
        if found is None:
            if len(self.images) >= self.limits.max_images:
                raise PdfProblem(
                    codes.PDF_TOO_MANY_IMAGES,
                    f"more than {self.limits.max_images} images; the limit is "
                    f"{self.limits.max_images}",
                )
            found = self.images[key] = _Found(image)
        found.pages.add(number)
        found.placements += 1
        ppi = _effective_ppi(image, ctm)
        if ppi is not None and (found.min_ppi is None or ppi < found.min_ppi):
            found.min_ppi = ppi


def _effective_ppi(image: pikepdf.Object, ctm: Matrix) -> float | None:
    """Pixels per inch at the placed size (the lower of the two axes); None if degenerate."""
    a, b, c, d, _, _ = ctm
    width_pt, height_pt = math.hypot(a, b), math.hypot(c, d)
    if width_pt <= 0 or height_pt <= 0:
        return None
    width, height = int(image.get("/Width", 0)), int(image.get("/Height", 0))
    return min(
        width / (width_pt / POINTS_PER_INCH),
        height / (height_pt / POINTS_PER_INCH),
    )


def _pages(pdf: pikepdf.Pdf) -> Iterator[tuple[int, pikepdf.Page]]:
    yield from enumerate(pdf.pages, start=1)


def open_pdf(path: Path) -> pikepdf.Pdf:
    """Open with qpdf (which repairs what it can); PdfProblem when it cannot or is encrypted.

    Encrypted PDFs are refused even when they open without a password [assumption]: the
    enhanced copy would have to be written without the owner's protection.
    """
    import pikepdf

    try:
        pdf = pikepdf.Pdf.open(path)
    except pikepdf.PasswordError as exc:
        raise PdfProblem(codes.PDF_ENCRYPTED, "the PDF is encrypted with a password") from exc
    except (pikepdf.PdfError, ValueError, OSError) as exc:
        raise PdfProblem(
            codes.PDF_DAMAGED, "the PDF cannot be read (damaged or not a PDF)"
        ) from exc
    if pdf.is_encrypted:
        pdf.close()
        raise PdfProblem(codes.PDF_ENCRYPTED, "the PDF is encrypted; send it unprotected")
    return pdf


def scan(path: Path, limits: PdfLimits, rule: Eligibility) -> ScanResult:
    """Analyse the PDF at ``path``; raises PdfProblem."""
    import pikepdf

    deadline = time.monotonic() + limits.analysis_seconds
    with open_pdf(path) as pdf:
        try:
            page_count = len(pdf.pages)
            if page_count > limits.max_pages:
                raise PdfProblem(
                    codes.PDF_TOO_MANY_PAGES,
                    f"the PDF has {page_count} pages; the limit is {limits.max_pages}",
                )
            walker = _Walker(limits, deadline)
            for number, page in _pages(pdf):
                walker.walk(number, page, page.obj.get("/Resources"), IDENTITY)
            images = tuple(_judge(found, limits, rule, walker) for found in walker.images.values())
        except PdfProblem:
            raise
        except (pikepdf.PdfError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise PdfProblem(
                codes.PDF_DAMAGED, f"the PDF's structure is damaged ({type(exc).__name__})"
            ) from exc
    if not images:
        raise PdfProblem(
            codes.PDF_NO_IMAGES,
            "the PDF draws no raster images (image XObjects) that could be enhanced",
        )
    total = sum(image.width * image.height for image in images)
    if total > limits.max_total_pixels:
        raise PdfProblem(
            codes.PDF_IMAGE_TOO_LARGE,
            f"its images hold {total / 1e6:.0f} MP together; the limit is "
            f"{limits.max_total_pixels / 1e6:.0f} MP",
        )
    return ScanResult(pages=page_count, images=images, inline_images=walker.inline_images)


def _judge(found: _Found, limits: PdfLimits, rule: Eligibility, walker: _Walker) -> PdfImage:
    """Check one image against the limits and decide what it is eligible for."""
    walker.check_time()
    obj = found.obj
    width, height = int(obj.get("/Width", 0)), int(obj.get("/Height", 0))
    if width <= 0 or height <= 0:
        raise PdfProblem(codes.PDF_DAMAGED, f"an image declares an empty size ({width}x{height})")
    if width * height > limits.max_image_pixels:
        raise PdfProblem(
            codes.PDF_IMAGE_TOO_LARGE,
            f"an embedded image declares {width}x{height} px ({width * height / 1e6:.0f} MP); "
            f"the limit is {limits.max_image_pixels / 1e6:.0f} MP",
        )
    features: set[str] = set()
    if enhanceable_reason(obj) is None and min(width, height) >= rule.min_side:
        read_pixels(obj).close()  # a damaged stream fails the analysis, not the paid job
        features.add(RESTORATION)
        if components(obj) == 3:
            features.add(COLOUR)
        low_resolution = found.min_ppi is not None and found.min_ppi < rule.upscaling_below_ppi
        if low_resolution and max(width, height) <= rule.max_upscaling_side:
            features.add(UPSCALING)
    return PdfImage(
        objgen=obj.objgen,
        width=width,
        height=height,
        pages=tuple(sorted(found.pages)),
        placements=found.placements,
        min_ppi=found.min_ppi,
        features=frozenset(features),
    )
