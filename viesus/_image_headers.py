"""Image headers read without decoding a pixel: format, size, EXIF orientation (PNG, WebP,
JPEG, TIFF; a PDF is recognised by its magic bytes)."""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

from viesus._errors import InvalidInput

if TYPE_CHECKING:
    from PIL import Image, ImageFile

__all__ = ["ImageHeader", "read_image_header"]

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
