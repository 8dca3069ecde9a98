"""Header-only identification of an upload: format, size, and the guards against hostile files.

`probe` never decodes pixels: Pillow's `Image.open` is lazy and reads only the header, so a
50000x50000 PNG bomb is rejected from its IHDR chunk before a single byte is inflated.
"""

from __future__ import annotations

import io
from typing import BinaryIO, Final

from PIL import Image

from . import formats
from .model import EngineError, ImageInfo

#: Largest input the engine agrees to decode. The service documents no file size limit; this is
#: the emulator's guard against decompression bombs (100 MP is far above any real photo upload,
#: and the upscaling limit of 3,000 px a side is checked separately for upscaling jobs).
MAX_INPUT_PIXELS: Final[int] = 100_000_000

#: The largest output a legal job can produce: 11,996 px a side (the documented output limit).
#: Pillow's own decompression-bomb guard (a warning above MAX_IMAGE_PIXELS, an error above twice
#: that) would otherwise fire when our outputs are read back (a 2999x2249 x4 job is ~108 MP).
#: Set deliberately, process-wide; `probe` keeps its own, stricter guard for inputs.
MAX_OUTPUT_SIDE: Final[int] = 11_996
Image.MAX_IMAGE_PIXELS = MAX_OUTPUT_SIDE * MAX_OUTPUT_SIDE

_SIGNATURES: Final[tuple[tuple[bytes, str], ...]] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),
    (b"MM\x00+", "TIFF"),
)


def sniff(data: bytes) -> str | None:
    """The supported format the leading bytes announce, or None (tells corrupt from alien)."""
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


#: How much of the start `sniff` and `_is_pdf` look at.
_HEAD_BYTES: Final[int] = 1024


def _is_pdf(data: bytes) -> bool:
    # The PDF header may follow a little junk (the spec tolerates it within the first 1 KiB).
    return b"%PDF-" in data[:1024]


#: EXIF orientations that rotate by 90 degrees (transpose, 90 CW, transverse, 90 CCW).
_SWAPS_AXES: Final[frozenset[int]] = frozenset({5, 6, 7, 8})
ORIENTATION_TAG: Final[int] = 0x0112


def orientation(img: Image.Image) -> int:
    """The EXIF orientation (1-8) found in the header, 1 when absent or unreadable."""
    try:
        value = img.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # a broken EXIF block must not fail the job: treat it as absent
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def open_image(data: bytes | BinaryIO) -> tuple[Image.Image, ImageInfo]:
    """Lazily open `data` and validate it; the caller may then `load()` the returned image.

    `data` may also be a seekable binary file, read from its start: only the header is read,
    and the file must stay open as long as the returned image is used.
    """
    source: BinaryIO
    if isinstance(data, bytes):
        head, source = data[:_HEAD_BYTES], io.BytesIO(data)
    else:
        data.seek(0)
        head, source = data.read(_HEAD_BYTES), data
        data.seek(0)
    if not head:
        raise EngineError("CORRUPT_INPUT", "the file is empty (0 bytes)")
    announced = sniff(head)
    if announced is None and _is_pdf(head):
        raise EngineError(
            "UNSUPPORTED_FORMAT", "PDF documents are not rasterised by the emulator's engine"
        )
    try:
        img = Image.open(source)
    except Image.DecompressionBombError as exc:
        raise EngineError(
            "IMAGE_TOO_LARGE", f"the header declares an image too large to decode ({exc})"
        ) from exc
    except Exception as exc:  # Pillow raises many types for unreadable headers
        if announced is not None:
            raise EngineError(
                "CORRUPT_INPUT", f"the {announced} header is truncated or broken ({exc})"
            ) from exc
        raise EngineError(
            "UNSUPPORTED_FORMAT",
            "not an image in a supported format (JPEG, PNG, TIFF, WebP)",
        ) from exc
    fmt = formats.canonical(img.format)
    if fmt is None:
        img.close()
        raise EngineError(
            "UNSUPPORTED_FORMAT",
            f"{img.format} images are not supported (JPEG, PNG, TIFF, WebP are)",
        )
    width, height = img.size
    if width <= 0 or height <= 0:
        img.close()
        raise EngineError("CORRUPT_INPUT", f"the header declares an empty image ({width}x{height})")
    if width * height > MAX_INPUT_PIXELS:
        img.close()
        raise EngineError(
            "IMAGE_TOO_LARGE",
            f"{width}x{height} is {width * height / 1e6:.0f} MP; the limit is "
            f"{MAX_INPUT_PIXELS / 1e6:.0f} MP",
        )
    if orientation(img) in _SWAPS_AXES:
        # Report the size as displayed: enhance() applies the EXIF orientation to the pixels.
        width, height = height, width
    info = ImageInfo(
        format=fmt,
        mimetype=formats.mimetype(fmt),
        extension=formats.extension(fmt),
        width=width,
        height=height,
    )
    return img, info


def probe(data: bytes | BinaryIO) -> ImageInfo:
    """Identify `data` (bytes or a seekable binary file) from its header only (no pixel decode).

    Raises EngineError.
    """
    img, info = open_image(data)
    img.close()
    return info
