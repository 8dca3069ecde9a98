"""Checks that run before any credit is spent: file header, option ranges, limits, cost.

Every check here is local and cheap. A job the service would refuse, or one that would cost
more than the caller allowed, is stopped before the upload, so a mistake costs nothing. The
rules come from the generated ``PARAMETERS`` table (ranges, enum values, feature credits), so a
schema change reaches them by regenerating, and from the documented AI upscaling limits.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from viesus._errors import InsufficientCredits, InvalidInput, InvalidOption, LimitExceeded
from viesus_client.enhancement_parameters import BY_GRAPHQL_PATH, PARAMETERS, Parameter
from viesus_client.enums import EnhancedImageParametersUpscalingFactor
from viesus_client.input_types import EnhancedImageInput

if TYPE_CHECKING:
    from PIL import Image, ImageFile

__all__ = [
    "DEFAULT_ENHANCEMENT_CREDITS",
    "MAX_UPSCALE_FACTOR",
    "MAX_UPSCALE_INPUT_SIDE",
    "MAX_UPSCALE_OUTPUT_SIDE",
    "ImageHeader",
    "check_budget",
    "check_limits",
    "estimate_batch",
    "estimate_credits",
    "read_image_header",
    "validate_options",
]

# AI upscaling limits [docs]. 3000 x 4 = 12000 > 11996: the output rule is the binding one, and
# the client rejects such a job rather than guess whether the service would round it down.
MAX_UPSCALE_INPUT_SIDE: Final = 3000
MAX_UPSCALE_FACTOR: Final = 4
MAX_UPSCALE_OUTPUT_SIDE: Final = 11996

# An input with no option set still gets the default (colour) enhancement: 1 credit. An
# assumption (the docs do not price an empty input), shared with the emulator.
DEFAULT_ENHANCEMENT_CREDITS: Final = 1

_UPSCALE_FACTORS: Final = {
    EnhancedImageParametersUpscalingFactor.X2.value: 2,
    EnhancedImageParametersUpscalingFactor.X4.value: 4,
}

# Pillow format name -> (mimetype, extension) for the formats the service takes [docs].
_SUPPORTED_FORMATS: Final = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "TIFF": ("image/tiff", "tif"),
    "WEBP": ("image/webp", "webp"),
}
_PDF_MAGIC: Final = b"%PDF-"


@dataclass(frozen=True)
class ImageHeader:
    """What the file's header says, read without decoding a pixel.

    ``width``/``height`` are the stored pixel dimensions (``None`` for a PDF, whose images are
    analysed by the service). ``orientation`` is the EXIF orientation tag (1 = upright; 5-8 mean
    a viewer shows the picture rotated by 90 degrees, i.e. with width and height swapped).
    """

    format: str
    mimetype: str
    extension: str
    width: int | None
    height: int | None
    orientation: int = 1


def read_image_header(path: Path) -> ImageHeader:
    """Read format and size from the header of ``path`` (JPEG, PNG, TIFF, WebP; PDF by magic).

    Pillow's ``Image.open`` is lazy: it parses the header and stops, so a 50000 x 50000 PNG is
    answered in microseconds. Pillow's decompression-bomb guard refuses to *open* such a file;
    that guard protects a decode that never happens here, so the header is then read by the
    format's own parser instead, and the size limits (``check_limits``) reject the file with
    the real numbers.

    Width and height are reported as stored, not swapped by EXIF orientation. The AI upscaling
    limits apply to both sides alike, so a swap does not change their outcome; only
    ``upscalingCustomWidth`` depends on which side is the width, and the service is assumed to
    interpret it against the stored width, as it reports ``Upload.width`` [inferred].

    Raises ``InvalidInput`` naming the file and the fix when it is missing, unreadable, not an
    image or in an unsupported format.
    """
    try:
        with path.open("rb") as stream:
            if stream.read(len(_PDF_MAGIC)) == _PDF_MAGIC:
                return ImageHeader("PDF", "application/pdf", "pdf", None, None)
            stream.seek(0)
            return _read_raster_header(stream, path)
    except FileNotFoundError:
        raise InvalidInput(str(path), "no such file; check the path") from None
    except IsADirectoryError:
        raise InvalidInput(str(path), "is a directory, not an image file") from None
    except PermissionError:
        raise InvalidInput(str(path), "permission denied; make the file readable") from None


def _read_raster_header(stream: IO[bytes], path: Path) -> ImageHeader:
    from PIL import Image, UnidentifiedImageError  # loaded on the first image, not at import

    formats = tuple(_SUPPORTED_FORMATS)
    unsupported = (
        "is not a supported image (JPEG, PNG, TIFF, WebP or PDF) or its header is damaged; "
        "convert it to JPEG or PNG"
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                image = Image.open(stream, formats=formats)
            except Image.DecompressionBombError:
                image = _open_without_bomb_check(stream, formats)
        with image:
            size = image.size
            fmt = image.format or ""
            orientation = _orientation(image)
    except (UnidentifiedImageError, SyntaxError, ValueError, OSError, EOFError):
        raise InvalidInput(str(path), unsupported) from None
    if fmt not in _SUPPORTED_FORMATS:
        raise InvalidInput(str(path), unsupported)
    mimetype, extension = _SUPPORTED_FORMATS[fmt]
    width, height = size
    if width <= 0 or height <= 0:
        raise InvalidInput(str(path), f"header says {width}x{height} pixels; the file is damaged")
    return ImageHeader(fmt, mimetype, extension, width, height, orientation)


def _open_without_bomb_check(stream: IO[bytes], formats: tuple[str, ...]) -> ImageFile.ImageFile:
    """Parse the header with the matching Pillow plugin, skipping only the size guard."""
    from PIL import Image, UnidentifiedImageError

    Image.init()
    stream.seek(0)
    prefix = stream.read(16)
    for name in formats:
        factory, accept = Image.OPEN[name]
        if accept is None or accept(prefix) is True:
            stream.seek(0)
            return factory(stream, "")
    raise UnidentifiedImageError("no plugin accepts the header")


def _orientation(image: Image.Image) -> int:
    """EXIF orientation (1 when absent or unreadable); reading it does not decode pixels."""
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not make a readable image unusable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def validate_options(options: EnhancedImageInput) -> None:
    """Check every set option against the generated table: ranges, enum values, positivity.

    pydantic already checked the types; this checks what the SDL can only say in words
    (``0.0-1.0``), including the nested ``customColorConfig`` fields. Raises ``InvalidOption``
    (an ``InvalidInput``) naming the option by its Python and GraphQL names, the value and the
    allowed range.
    """
    for parameter in PARAMETERS:
        value = _value_at(options, parameter.python_name)
        if value is not None:
            _check_parameter(parameter, value)


def _check_parameter(parameter: Parameter, value: Any) -> None:
    def reject(allowed: str) -> InvalidOption:
        return InvalidOption(parameter.python_name, parameter.graphql_path, value, allowed)

    if parameter.kind == "enum":
        raw = value.value if isinstance(value, Enum) else value
        if raw not in parameter.enum_values:
            raise reject("one of " + ", ".join(parameter.enum_values))
        return
    if parameter.kind not in ("decimal", "int", "float"):
        return
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise reject(f"a number ({parameter.kind})")
    number = Decimal(value) if isinstance(value, int | float) else value
    if not number.is_finite():
        raise reject("a finite number")
    low, high = parameter.minimum, parameter.maximum
    if parameter.kind == "int" and low is None:
        low = Decimal(1)  # pixel widths and DPI: a positive whole number
    if (low is not None and number < low) or (high is not None and number > high):
        raise reject(_range_text(low, high))


def _range_text(low: Decimal | None, high: Decimal | None) -> str:
    if low is not None and high is not None:
        return f"from {low} to {high}"
    if low is not None:
        return f"at least {low}"
    return f"at most {high}"


def _value_at(options: EnhancedImageInput, python_name: str) -> Any:
    """The value of a (possibly dotted, nested) option, or ``None`` when unset."""
    value: Any = options
    for part in python_name.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def check_limits(source: str, header: ImageHeader, options: EnhancedImageInput) -> None:
    """Reject AI upscaling the service would refuse [docs], before anything is uploaded.

    Three rules: input at most 3,000 px wide or high; enlargement at most 4x; output at most
    11,996 px wide or high. The output of ``upscalingFactor`` is the input times 2 or 4; with
    ``upscalingCustomWidth`` the width is given and the height follows proportionally (rounded).
    When both are set, both must pass. ``upscalingCustomDPI`` alone cannot be checked (the
    enlargement depends on a print size the API does not take) and is left to the service, as
    are PDFs (``header`` without a size). Raises ``LimitExceeded`` with the file, the number,
    the limit and a fix.
    """
    if header.width is None or header.height is None:
        return
    factor_name = _value_at(options, "upscaling_factor")
    custom_width = _value_at(options, "upscaling_custom_width")
    if factor_name is None and custom_width is None:
        return
    width, height = header.width, header.height
    longest = max(width, height)
    if longest > MAX_UPSCALE_INPUT_SIDE:
        raise LimitExceeded(
            source,
            "the longer side of an AI upscaling input (px)",
            longest,
            MAX_UPSCALE_INPUT_SIDE,
            f"resize to at most {MAX_UPSCALE_INPUT_SIDE} px before upscaling",
        )
    if factor_name is not None:
        raw = factor_name.value if isinstance(factor_name, Enum) else str(factor_name)
        factor = _UPSCALE_FACTORS.get(raw)
        if factor is not None:
            _check_output(source, width * factor, height * factor, f"upscaling {raw}", longest)
    if custom_width is not None:
        _check_custom_width(source, width, height, int(custom_width))


def _check_custom_width(source: str, width: int, height: int, custom_width: int) -> None:
    largest_allowed = min(
        MAX_UPSCALE_FACTOR * width,
        MAX_UPSCALE_OUTPUT_SIDE,
        math.floor(MAX_UPSCALE_OUTPUT_SIDE * width / height),
    )
    hint = f"use upscalingCustomWidth at most {largest_allowed}"
    enlargement = custom_width / width
    if enlargement > MAX_UPSCALE_FACTOR:
        raise LimitExceeded(
            source,
            f"the enlargement of upscalingCustomWidth={custom_width} from {width} px",
            round(enlargement, 3),
            MAX_UPSCALE_FACTOR,
            hint,
        )
    out_height = round(height * custom_width / width)
    longest_out = max(custom_width, out_height)
    if longest_out > MAX_UPSCALE_OUTPUT_SIDE:
        raise LimitExceeded(
            source,
            f"the longer output side (px) of upscalingCustomWidth={custom_width}",
            longest_out,
            MAX_UPSCALE_OUTPUT_SIDE,
            hint,
        )


def _check_output(source: str, out_width: int, out_height: int, what: str, longest: int) -> None:
    longest_out = max(out_width, out_height)
    if longest_out <= MAX_UPSCALE_OUTPUT_SIDE:
        return
    fix = f"resize to at most {MAX_UPSCALE_OUTPUT_SIDE // (longest_out // longest)} px"
    if what.endswith("X4"):
        fix = "use X2 or " + fix
    raise LimitExceeded(
        source, f"the longer output side (px) of {what}", longest_out, MAX_UPSCALE_OUTPUT_SIDE, fix
    )


def estimate_credits(options: EnhancedImageInput) -> int:
    """Credits one enhancement with ``options`` costs: the most expensive active feature [docs].

    Costs never add up (upscaling + background removal is 4, not 8). Each field's feature and
    price come from the generated table; a nested field (``customColorConfig.highlightfac``)
    counts for its parent's feature; an option whose feature is unknown (``preset``) is priced
    at the table's conservative 4. Nothing set costs ``DEFAULT_ENHANCEMENT_CREDITS`` (1): the
    default enhancement still runs, and is charged [assumption shared with the emulator].
    """
    cost = 0
    for parameter in PARAMETERS:
        if _value_at(options, parameter.python_name) is None:
            continue
        parent = parameter.graphql_path.split(".", 1)[0]
        cost = max(cost, BY_GRAPHQL_PATH.get(parent, parameter).credits)
    return cost or DEFAULT_ENHANCEMENT_CREDITS


def estimate_batch(options: Iterable[EnhancedImageInput]) -> int:
    """Total credits of a batch: one enhancement per item, each priced by ``estimate_credits``."""
    return sum(estimate_credits(item) for item in options)


def check_budget(total: int, max_credits: int | None = None, remaining: int | None = None) -> None:
    """Refuse a batch costing ``total`` credits over the caller's cap or the account's balance.

    ``None`` means "no such limit known". Raises ``InsufficientCredits`` with both numbers;
    the caller's cap is checked first, since it is the one the caller can change at once.
    """
    if max_credits is not None and total > max_credits:
        raise InsufficientCredits(total, max_credits, "max_credits")
    if remaining is not None and total > remaining:
        raise InsufficientCredits(total, remaining, "the remaining credits this period")
