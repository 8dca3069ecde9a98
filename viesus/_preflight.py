"""Checks that run before any credit is spent: file header, option ranges, limits, cost.

Every check here is local and cheap. A job the service would refuse, or one that would cost
more than the caller allowed, is stopped before the upload, so a mistake costs nothing. The
rules come from the generated ``PARAMETERS`` table (ranges, enum values, feature credits), so a
schema change reaches them by regenerating, and from the documented AI upscaling limits.
"""

from __future__ import annotations

import math
import os
import struct
import tempfile
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from viesus._errors import (
    BudgetExceeded,
    InsufficientCredits,
    InvalidInput,
    InvalidOption,
    LimitExceeded,
)
from viesus_client.enhancement_parameters import BY_GRAPHQL_PATH, PARAMETERS, Parameter
from viesus_client.enums import EnhancedImageParametersUpscalingFactor
from viesus_client.input_types import EnhancedImageInput

if TYPE_CHECKING:
    from PIL import Image, ImageFile

__all__ = [
    "DEFAULT_ENHANCEMENT_CREDITS",
    "MAX_INPUT_PIXELS",
    "MAX_UPSCALE_FACTOR",
    "MAX_UPSCALE_INPUT_SIDE",
    "MAX_UPSCALE_OUTPUT_SIDE",
    "ImageHeader",
    "check_budget",
    "check_limits",
    "check_output_folder",
    "check_sources",
    "estimate_credits",
    "read_image_header",
    "validate_options",
]

# AI upscaling limits [docs]. 3000 x 4 = 12000 > 11996: the output rule is the binding one, and
# the client rejects such a job rather than guess whether the service would round it down.
MAX_UPSCALE_INPUT_SIDE: Final = 3000
MAX_UPSCALE_FACTOR: Final = 4
MAX_UPSCALE_OUTPUT_SIDE: Final = 11996

# Any image larger than this many pixels is refused, upscaled or not. [assumption] The service
# documents no pixel or file-size limit; this is Pillow's decompression-bomb threshold
# (2 x Image.MAX_IMAGE_PIXELS = 2 x 89,478,485), the size at which the library that reads the
# image here refuses to decode it, and far above the largest upscaling output (11,996 px a side,
# 144 MP). Stated as a number so that a caller's changed Pillow setting does not move it.
MAX_INPUT_PIXELS: Final = 178_956_970

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
_PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
_ORIENTATION_TAG: Final = 0x0112
_MAX_PNG_CHUNKS: Final = 10_000  # a chunk walk ends here even on a hostile file


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
            webp = _webp_header(stream)
            if webp is not None:
                return webp
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
            size = _stored_size(image)
            fmt = image.format or ""
            orientation = _orientation(image, stream)
    except (UnidentifiedImageError, SyntaxError, ValueError, OSError, EOFError):
        raise InvalidInput(str(path), unsupported) from None
    if fmt not in _SUPPORTED_FORMATS:
        raise InvalidInput(str(path), unsupported)
    mimetype, extension = _SUPPORTED_FORMATS[fmt]
    width, height = size
    if width <= 0 or height <= 0:
        raise InvalidInput(str(path), f"header says {width}x{height} pixels; the file is damaged")
    return ImageHeader(fmt, mimetype, extension, width, height, orientation)


def _stored_size(image: ImageFile.ImageFile) -> tuple[int, int]:
    """Width and height as stored. Pillow reports a TIFF whose EXIF orientation is 5-8 with
    the sides already swapped (it transposes on load); the TIFF tags hold the stored ones."""
    tags = getattr(image, "tag_v2", None)
    if image.format == "TIFF" and tags is not None:
        width, height = tags.get(256), tags.get(257)
        if isinstance(width, int) and isinstance(height, int):
            return width, height
    return image.size


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


def _orientation(image: Image.Image, stream: IO[bytes]) -> int:
    """EXIF orientation (1 when absent or unreadable), read without decoding any pixel.

    For PNG, Pillow's ``getexif()`` loads, i.e. decodes, the whole image to reach an ``eXIf``
    chunk stored after the pixel data (+125 MB peak for a 97 MB PNG), so PNG chunks are walked
    here instead, seeking over the pixel data. The other formats keep EXIF in their header.
    """
    try:
        if image.format == "PNG":
            return _png_orientation(stream)
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # a broken EXIF block must not make a readable image unusable
        return 1
    return _valid_orientation(value)


def _valid_orientation(value: object) -> int:
    """An EXIF orientation tag's value if it is one of the eight; 1 (as stored) otherwise."""
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _png_orientation(stream: IO[bytes]) -> int:
    """Orientation from the PNG's ``eXIf`` chunk, wherever it is; pixel data is skipped."""
    stream.seek(len(_PNG_MAGIC))
    for _ in range(_MAX_PNG_CHUNKS):
        head = stream.read(8)
        if len(head) < 8:
            return 1
        length, kind = struct.unpack(">I4s", head)
        if kind == b"eXIf":
            return _exif_orientation(stream.read(length))
        if kind == b"IEND":
            return 1
        stream.seek(length + 4, os.SEEK_CUR)  # data + CRC
    return 1


def _webp_header(stream: IO[bytes]) -> ImageHeader | None:
    """A WebP's size and orientation from its RIFF chunks; ``None`` if not a readable WebP.

    Pillow's WebP plugin reads the whole file into memory to open it (+175 MB peak for a
    92 MB WebP, measured), so the few header bytes are parsed here: ``VP8 `` (lossy) and
    ``VP8L`` (lossless) frame headers, ``VP8X`` (extended) canvas size, and its ``EXIF``
    chunk, which the format stores after the image data (seeked over, never read).
    """
    head = stream.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    size: tuple[int, int] | None = None
    for _ in range(_MAX_PNG_CHUNKS):
        chunk = stream.read(8)
        if len(chunk) < 8:
            break
        kind, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        start = stream.tell()
        data = stream.read(min(length, 30))
        if kind == b"VP8X" and len(data) >= 10:
            size = (
                1 + int.from_bytes(data[4:7], "little"),
                1 + int.from_bytes(data[7:10], "little"),
            )
            if not data[0] & 0x08:  # no EXIF chunk
                break
        elif kind == b"VP8 " and size is None and len(data) >= 10 and data[3:6] == b"\x9d\x01\x2a":
            width, height = (side & 0x3FFF for side in struct.unpack("<HH", data[6:10]))
            return _webp(width, height, 1) if width and height else None
        elif kind == b"VP8L" and size is None and len(data) >= 5 and data[0] == 0x2F:
            bits = int.from_bytes(data[1:5], "little")
            return _webp(1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF), 1)
        elif kind == b"EXIF" and size is not None:
            stream.seek(start)
            return _webp(*size, _exif_orientation(stream.read(length)))
        stream.seek(start + length + (length & 1))
    return None if size is None else _webp(*size, 1)


def _webp(width: int, height: int, orientation: int) -> ImageHeader:
    mimetype, extension = _SUPPORTED_FORMATS["WEBP"]
    return ImageHeader("WEBP", mimetype, extension, width, height, orientation)


def _exif_orientation(data: bytes) -> int:
    """Orientation from a raw EXIF block (a PNG ``eXIf`` or WebP ``EXIF`` chunk)."""
    from PIL import Image

    try:
        exif = Image.Exif()
        exif.load(data)
        value = exif.get(_ORIENTATION_TAG, 1)
    except Exception:  # a broken EXIF block must not make a readable image unusable
        return 1
    return _valid_orientation(value)


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
    """Reject an image the service would refuse, before anything is uploaded.

    Any image over ``MAX_INPUT_PIXELS`` pixels is refused, upscaled or not [assumption: see
    ``MAX_INPUT_PIXELS``]. For AI upscaling [docs], three rules: input
    at most 3,000 px wide or high; enlargement at most 4x; output at most 11,996 px wide or
    high. The output of ``upscalingFactor`` is the input times 2 or 4; with
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
    if factor_name is not None or custom_width is not None:
        _check_upscaling(source, header.width, header.height, factor_name, custom_width)
    pixels = header.width * header.height
    if pixels > MAX_INPUT_PIXELS:
        raise LimitExceeded(
            source,
            f"the pixel count ({header.width} x {header.height})",
            pixels,
            MAX_INPUT_PIXELS,
            "resize it; [assumption] the service documents no pixel limit, this one is "
            "Pillow's decompression-bomb threshold",
        )


def _check_upscaling(
    source: str, width: int, height: int, factor_name: Any, custom_width: Any
) -> None:
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


def check_budget(total: int, max_credits: int | None = None, remaining: int | None = None) -> None:
    """Refuse a batch costing ``total`` credits over the caller's cap or the account's balance.

    ``None`` means "no such limit known". Raises ``BudgetExceeded`` (the cap) or
    ``InsufficientCredits`` (the balance) with both numbers; the caller's cap is checked
    first, since it is the one the caller can change at once.
    """
    if max_credits is not None and total > max_credits:
        raise BudgetExceeded(total, max_credits)
    if remaining is not None and total > remaining:
        raise InsufficientCredits(total, remaining, "the remaining credits this period")


def check_sources(sources: object) -> list[str | Path]:
    """The sources as a list, each a path or URL; ``InvalidInput`` naming a bad one.

    ``None`` or a number in a list used to reach ``Path()`` and raise ``TypeError`` mid-batch.
    A single string is refused too: iterating it would enhance one "file" per character.
    """
    if isinstance(sources, str | Path | bytes):
        raise InvalidInput(
            "sources",
            "one path was given where a list is expected; pass [path], or use enhance() "
            "for a single source",
        )
    if not isinstance(sources, Iterable):
        raise InvalidInput("sources", f"a {type(sources).__name__} is not a list of paths or URLs")
    checked: list[str | Path] = []
    for index, source in enumerate(sources):
        if not isinstance(source, str | os.PathLike) or isinstance(source, bytes):
            raise InvalidInput(
                f"sources[{index}]",
                f"a {type(source).__name__} is not a file path or an http(s) URL",
            )
        if isinstance(source, str) and not source.strip():
            raise InvalidInput(f"sources[{index}]", "an empty string is not a file path or URL")
        checked.append(source if isinstance(source, str) else Path(source))
    return checked


def check_output_folder(folder: Path) -> None:
    """Make sure results can be written to ``folder`` (created if missing) before paying.

    A probe file is created and removed: the only test that covers permissions, read-only
    file systems and a full disk alike. ``InvalidInput`` names the folder and the fix.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InvalidInput(str(folder), _not_a_folder(folder)) from None
    except NotADirectoryError:
        raise InvalidInput(str(folder), _not_a_folder(folder)) from None
    except PermissionError:
        raise InvalidInput(
            str(folder), "permission denied creating the output folder; choose another"
        ) from None
    except OSError as exc:
        raise InvalidInput(
            str(folder), f"the output folder cannot be created ({exc.strerror})"
        ) from None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".viesus-write-check-"):
            pass
    except PermissionError:
        raise InvalidInput(
            str(folder), "no permission to write in the output folder; choose another"
        ) from None
    except OSError as exc:
        raise InvalidInput(
            str(folder), f"results cannot be written to the output folder ({exc.strerror})"
        ) from None


def _not_a_folder(folder: Path) -> str:
    blocking = next((p for p in (folder, *folder.parents) if p.exists()), folder)
    if blocking == folder:
        return "is a file, not a folder; choose an output folder"
    return f"{blocking} is a file, not a folder; choose another output folder"
