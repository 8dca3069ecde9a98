"""The formats the emulator accepts and writes, and their MIME types and extensions.

The service documents JPEG, PNG, TIFF and WebP (and PDF, which the emulator does not rasterise).
Pillow reports multi-picture camera JPEGs as "MPO": they are JPEGs for every purpose here.
"""

from __future__ import annotations

from typing import Final

#: Pillow format name -> (mimetype, extension) for every format the engine reads and writes.
FORMATS: Final[dict[str, tuple[str, str]]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "TIFF": ("image/tiff", "tif"),
    "WEBP": ("image/webp", "webp"),
}

#: Pillow names that are read as one of FORMATS.
ALIASES: Final[dict[str, str]] = {"MPO": "JPEG"}

#: Formats that can carry an alpha channel (background REMOVE keeps them; JPEG becomes PNG).
ALPHA_FORMATS: Final[frozenset[str]] = frozenset({"PNG", "TIFF", "WEBP"})


def canonical(pillow_format: str | None) -> str | None:
    """The FORMATS key for a Pillow format name, or None when the format is not supported."""
    if pillow_format is None:
        return None
    name = ALIASES.get(pillow_format, pillow_format)
    return name if name in FORMATS else None


def mimetype(fmt: str) -> str:
    return FORMATS[fmt][0]


def extension(fmt: str) -> str:
    return FORMATS[fmt][1]
