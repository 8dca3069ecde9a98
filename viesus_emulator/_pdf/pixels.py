"""Reading an image XObject's pixels safely, and writing enhanced pixels back into it."""

from __future__ import annotations

import io
import struct
import zlib
from typing import TYPE_CHECKING, Any, Final

from PIL import Image

from viesus_emulator import _codes as codes
from viesus_emulator._pdf.records import PdfProblem

if TYPE_CHECKING:
    import pikepdf

#: Colour spaces the engine can round-trip, by component count.
_DEVICE_COMPONENTS: Final[dict[str, int]] = {
    "/DeviceRGB": 3,
    "/DeviceGray": 1,
    "/CalRGB": 3,
    "/CalGray": 1,
}
_MODES: Final[dict[int, str]] = {1: "L", 3: "RGB"}
_PNG_COLOUR_TYPE: Final[dict[int, int]] = {1: 0, 3: 2}


def components(obj: pikepdf.Object) -> int | None:
    """1 or 3 for a colour space the engine round-trips; None for any other."""
    import pikepdf

    space = obj.get("/ColorSpace")
    if isinstance(space, pikepdf.Name):
        return _DEVICE_COMPONENTS.get(str(space))
    if isinstance(space, pikepdf.Array) and len(space) >= 1:
        family = str(space[0])
        if family in _DEVICE_COMPONENTS:
            return _DEVICE_COMPONENTS[family]
        if family == "/ICCBased" and len(space) == 2:
            count = space[1].get("/N")
            if isinstance(count, int) and count in _MODES:
                return count
    return None


def filters(obj: pikepdf.Object) -> list[str]:
    import pikepdf

    value = obj.get("/Filter")
    if value is None:
        return []
    if isinstance(value, pikepdf.Name):
        return [str(value)]
    if isinstance(value, pikepdf.Array):
        return [str(item) for item in value]
    return ["?"]


def _decode_parms(obj: pikepdf.Object) -> dict[str, Any] | None:
    import pikepdf

    value = obj.get("/DecodeParms")
    if isinstance(value, pikepdf.Array):
        value = value[0] if len(value) == 1 else None
    if value is None or not isinstance(value, pikepdf.Dictionary):
        return None
    return {str(key): value[key] for key in value.keys()}  # noqa: SIM118 - pikepdf mapping


def enhanceable_reason(obj: pikepdf.Object) -> str | None:
    """Why the engine cannot round-trip this image XObject, or None when it can."""
    if bool(obj.get("/ImageMask", False)):
        return "an image mask"
    if obj.get("/BitsPerComponent") != 8:
        return "not 8 bits per component"
    if components(obj) is None:
        return "a colour space other than RGB or grey"
    if obj.get("/Decode") is not None:
        return "a /Decode array"
    chain = filters(obj)
    if chain not in ([], ["/FlateDecode"], ["/DCTDecode"]):
        return f"compressed with {'+'.join(chain)}"
    parms = _decode_parms(obj)
    if chain == ["/FlateDecode"] and parms and int(parms.get("/Predictor", 1)) > 1:
        predictor = int(parms.get("/Predictor", 1))
        count = components(obj)
        if not (
            10 <= predictor <= 15
            and int(parms.get("/Colors", 1)) == count
            and int(parms.get("/BitsPerComponent", 8)) == 8
            and int(parms.get("/Columns", 1)) == int(obj.get("/Width", 0))
        ):
            return "a Flate predictor the emulator does not read"
    return None


def read_pixels(obj: pikepdf.Object) -> Image.Image:
    """The image's pixels (mode L or RGB), decoded within its declared size.

    The caller checked ``enhanceable_reason(obj) is None`` and the declared pixel count.
    Raises PdfProblem(PDF_DAMAGED) when the stream does not hold what it declares.
    """
    width, height = int(obj.Width), int(obj.Height)
    count = components(obj)
    assert count is not None
    mode = _MODES[count]
    expected = width * height * count
    chain = filters(obj)
    raw = obj.read_raw_bytes()
    try:
        if chain == ["/DCTDecode"]:
            image = Image.open(io.BytesIO(raw), formats=["JPEG"])
            if image.size != (width, height):
                raise PdfProblem(
                    codes.PDF_DAMAGED,
                    f"a JPEG image declares {width}x{height} px but holds "
                    f"{image.size[0]}x{image.size[1]}",
                )
            image.load()
            return image.convert(mode) if image.mode != mode else image
        if chain == ["/FlateDecode"]:
            parms = _decode_parms(obj) or {}
            if int(parms.get("/Predictor", 1)) >= 10:
                png = _as_png(raw, width, height, count)
                image = Image.open(io.BytesIO(png), formats=["PNG"])
                image.load()
                return image
            samples = zlib.decompressobj().decompress(raw, expected)
        else:
            samples = raw[:expected]
    except PdfProblem:
        raise
    except Exception as exc:  # zlib.error, Pillow's many types for a broken stream
        raise PdfProblem(
            codes.PDF_DAMAGED,
            f"an embedded {width}x{height} image cannot be decoded ({type(exc).__name__})",
        ) from exc
    if len(samples) < expected:
        raise PdfProblem(
            codes.PDF_DAMAGED,
            f"an embedded {width}x{height} image holds {len(samples)} of {expected} bytes",
        )
    return Image.frombytes(mode, (width, height), samples)


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def _as_png(idat: bytes, width: int, height: int, count: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOUR_TYPE[count], 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def engine_input(obj: pikepdf.Object, image: Image.Image) -> bytes:
    """Bytes the engine accepts for this image: the JPEG itself, or a lossless PNG."""
    if filters(obj) == ["/DCTDecode"]:
        return bytes(obj.read_raw_bytes())
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def write_back(obj: pikepdf.Object, result: bytes, result_format: str) -> tuple[int, int]:
    """Put the engine's output into the XObject; returns the new (width, height)."""
    import pikepdf

    count = components(obj)
    assert count is not None
    mode = _MODES[count]
    image = Image.open(io.BytesIO(result))
    if result_format == "JPEG" and image.mode == mode:
        obj.write(result, filter=pikepdf.Name.DCTDecode)
    else:
        pixels = image.convert(mode) if image.mode != mode else image
        obj.write(zlib.compress(pixels.tobytes(), 6), filter=pikepdf.Name.FlateDecode)
    if "/DecodeParms" in obj:
        del obj["/DecodeParms"]
    obj.Width, obj.Height = image.size
    obj.BitsPerComponent = 8
    return image.size
