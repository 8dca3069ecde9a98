"""Decoding to a NumPy working copy and encoding back, keeping the metadata that matters."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from PIL import Image

from . import formats
from .arrays import U8
from .model import EngineError, ImageInfo
from .probe import ORIENTATION_TAG, open_image, orientation

JPEG_QUALITY: Final[int] = 92
WEBP_QUALITY: Final[int] = 92

_TRANSPOSE: Final[dict[int, Image.Transpose]] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_X_RESOLUTION: Final[int] = 282
_Y_RESOLUTION: Final[int] = 283
_RESOLUTION_UNIT: Final[int] = 296
_EXIF_IFD: Final[int] = 0x8769
_PIXEL_X: Final[int] = 0xA002
_PIXEL_Y: Final[int] = 0xA003

#: TIFF tags that describe the raster itself: a TIFF's "EXIF" (its IFD0) carries them, and they
#: must not be copied onto a re-encoded raster of another size or layout.
_TIFF_STRUCTURE: Final[frozenset[int]] = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 280, 281, 284, 317, 320}
    | {322, 323, 324, 325, 338, 339, 340, 341, 347, 530, 531, 532, 700, 34377, 34675}
)


@dataclass
class Decoded:
    """An upright 8-bit RGB working copy plus what is needed to write the result back."""

    rgb: U8
    alpha: U8 | None
    grey: bool
    info: ImageInfo
    icc: bytes | None = None
    dpi: tuple[float, float] | None = None
    exif: Image.Exif | None = None
    #: Mean of the JPEG luminance quantisation table (compression strength), if a JPEG.
    quant_mean: float | None = None


def _to_8bit(img: Image.Image) -> tuple[U8, U8 | None, bool]:
    """Pixels as (rgb HxWx3, alpha HxW or None, was greyscale)."""
    mode = img.mode
    if mode.startswith("I") or mode == "F":
        values = np.asarray(img, dtype=np.float64)
        if mode == "F":
            values = values * 255.0 if values.size and float(values.max()) <= 1.0 else values
        elif mode.startswith("I;16") or (values.size and float(values.max()) > 255.0):
            values = values / 257.0  # 16-bit range -> 8-bit range, scaled rather than clipped
        grey8 = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.repeat(grey8[:, :, None], 3, axis=2), None, True
    if mode in ("1", "L"):
        grey8 = np.asarray(img.convert("L"), dtype=np.uint8)
        return np.repeat(grey8[:, :, None], 3, axis=2), None, True
    if mode in ("LA", "La"):
        la = np.asarray(img.convert("LA"), dtype=np.uint8)
        return np.repeat(la[:, :, :1], 3, axis=2), np.ascontiguousarray(la[:, :, 1]), True
    has_alpha = "A" in img.getbands() or (mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = np.asarray(img.convert("RGBA"), dtype=np.uint8)
        return np.ascontiguousarray(rgba[:, :, :3]), np.ascontiguousarray(rgba[:, :, 3]), False
    return np.asarray(img.convert("RGB"), dtype=np.uint8), None, False


def _read_dpi(img: Image.Image, exif: Image.Exif | None) -> tuple[float, float] | None:
    dpi = img.info.get("dpi")
    if isinstance(dpi, tuple) and len(dpi) == 2:
        try:
            x, y = float(dpi[0]), float(dpi[1])
        except (TypeError, ValueError):
            return None
        return (x, y) if x > 0 and y > 0 else None
    if exif is not None and _X_RESOLUTION in exif and exif.get(_RESOLUTION_UNIT, 2) == 2:
        try:
            x = float(exif[_X_RESOLUTION])
            y = float(exif.get(_Y_RESOLUTION, exif[_X_RESOLUTION]))
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        return (x, y) if x > 0 and y > 0 else None
    return None


def decode(data: bytes) -> Decoded:
    """Fully decode `data` (after the `probe` checks). Broken pixel data -> CORRUPT_INPUT."""
    img, info = open_image(data)
    try:
        with img:
            try:
                img.load()
            except Image.DecompressionBombError as exc:
                raise EngineError("IMAGE_TOO_LARGE", str(exc)) from exc
            except Exception as exc:  # truncated or broken pixel data
                raise EngineError(
                    "CORRUPT_INPUT", f"the {info.format} pixel data cannot be decoded ({exc})"
                ) from exc
            exif: Image.Exif | None
            try:
                exif = img.getexif()
                if info.format == "TIFF":
                    # A TIFF's IFD0 is also its raster description: keep only descriptive tags.
                    kept = Image.Exif()
                    for tag, value in exif.items():
                        if tag not in _TIFF_STRUCTURE and tag < 65000:
                            kept[tag] = value
                    exif = kept
                exif = exif if len(exif) else None
            except Exception:  # an unreadable EXIF block is dropped, not fatal
                exif = None
            turn = orientation(img)
            upright = img.transpose(_TRANSPOSE[turn]) if turn in _TRANSPOSE else img
            if exif is not None and ORIENTATION_TAG in exif:
                exif[ORIENTATION_TAG] = 1
            icc = img.info.get("icc_profile")
            dpi = _read_dpi(img, exif)
            rgb, alpha, grey = _to_8bit(upright)
            quant_mean = _quant_mean(img)
    except EngineError:
        raise
    except Exception as exc:  # anything else Pillow raises while converting
        raise EngineError("CORRUPT_INPUT", f"the image cannot be decoded ({exc})") from exc
    height, width = rgb.shape[:2]
    info = ImageInfo(info.format, info.mimetype, info.extension, width, height)
    return Decoded(
        rgb=rgb,
        alpha=alpha,
        grey=grey,
        info=info,
        icc=icc if isinstance(icc, bytes) and icc else None,
        dpi=dpi,
        exif=exif,
        quant_mean=quant_mean,
    )


def _quant_mean(img: Image.Image) -> float | None:
    tables = getattr(img, "quantization", None)
    if isinstance(tables, dict) and tables:
        luma = tables.get(0) or next(iter(tables.values()))
        try:
            values = [float(v) for v in luma]
        except (TypeError, ValueError):
            return None
        return sum(values) / len(values) if values else None
    return None


def _icc_fits(icc: bytes, grey: bool) -> bool:
    """Whether an ICC profile's colour space (header bytes 16-19) matches the output pixels."""
    space = icc[16:20]
    return space == (b"GRAY" if grey else b"RGB ")


def _plain_dpi(dpi: tuple[float, float]) -> tuple[float, float]:
    # PNG stores DPI per metre (300 reads back as 299.9994): snap near-integers back.
    return (
        float(round(dpi[0])) if abs(dpi[0] - round(dpi[0])) < 0.01 else dpi[0],
        float(round(dpi[1])) if abs(dpi[1] - round(dpi[1])) < 0.01 else dpi[1],
    )


def output_format(source: str, alpha: bool) -> str:
    """The written format: the input's, except that JPEG with alpha becomes PNG."""
    if alpha and source not in formats.ALPHA_FORMATS:
        return "PNG"
    return source


def encode(
    rgb: U8,
    alpha: U8 | None,
    *,
    fmt: str,
    grey: bool,
    icc: bytes | None,
    dpi: tuple[float, float] | None,
    exif: Image.Exif | None,
) -> bytes:
    """Encode the working copy as `fmt`, with the metadata kwargs that are set (never None)."""
    height, width = rgb.shape[:2]
    if grey:
        img = Image.fromarray(np.ascontiguousarray(rgb[:, :, 0]), "L")
    else:
        img = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    if alpha is not None:
        img = img.convert("LA" if grey else "RGBA")
        img.putalpha(Image.fromarray(np.ascontiguousarray(alpha), "L"))

    kwargs: dict[str, Any] = {}
    if fmt == "JPEG":
        kwargs["quality"] = JPEG_QUALITY
    elif fmt == "PNG":
        kwargs["compress_level"] = 1
    elif fmt == "WEBP":
        kwargs["quality"] = WEBP_QUALITY
    if icc is not None and _icc_fits(icc, grey):
        kwargs["icc_profile"] = icc
    if dpi is not None:
        dpi = _plain_dpi(dpi)
        if fmt == "JPEG":
            kwargs["dpi"] = (round(dpi[0]), round(dpi[1]))
        elif fmt != "WEBP":
            kwargs["dpi"] = dpi
        if exif is None and fmt == "WEBP":
            exif = Image.Exif()
        if exif is not None:
            exif[_X_RESOLUTION] = dpi[0]
            exif[_Y_RESOLUTION] = dpi[1]
            exif[_RESOLUTION_UNIT] = 2  # inches
    if exif is not None:
        with contextlib.suppress(Exception):  # a broken sub-IFD is written as found
            sub = exif.get_ifd(_EXIF_IFD)
            if _PIXEL_X in sub or _PIXEL_Y in sub:
                sub[_PIXEL_X] = width
                sub[_PIXEL_Y] = height
        kwargs["exif"] = exif

    # Metadata from the wild can be malformed (EXIF over 64 KiB for JPEG, a bogus profile):
    # degrade gracefully, metadata first, before calling the job a failure.
    attempts = [kwargs]
    if "exif" in kwargs:
        attempts.append({k: v for k, v in kwargs.items() if k != "exif"})
    if "icc_profile" in kwargs:
        attempts.append({k: v for k, v in attempts[-1].items() if k != "icc_profile"})
    error: Exception | None = None
    for attempt in attempts:
        buffer = io.BytesIO()
        try:
            img.save(buffer, format=fmt, **attempt)
        except Exception as exc:
            error = exc
            continue
        return buffer.getvalue()
    raise EngineError("CORRUPT_INPUT", f"the result cannot be written as {fmt} ({error})")
