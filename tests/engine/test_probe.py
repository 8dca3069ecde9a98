"""probe(): header-only identification and the guards against bad or hostile inputs."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from tests.engine.helpers import encode, png_header_only, scene
from viesus_emulator._engine import MAX_INPUT_PIXELS, EngineError, enhance, probe


@pytest.mark.parametrize(
    ("fmt", "mimetype", "extension"),
    [
        ("JPEG", "image/jpeg", "jpg"),
        ("PNG", "image/png", "png"),
        ("TIFF", "image/tiff", "tif"),
        ("WEBP", "image/webp", "webp"),
    ],
)
def test_probe_identifies_supported_formats(fmt: str, mimetype: str, extension: str) -> None:
    info = probe(encode(scene(64, 48), fmt))
    assert (info.format, info.mimetype, info.extension) == (fmt, mimetype, extension)
    assert (info.width, info.height) == (64, 48)


def test_probe_reports_the_displayed_size_of_a_rotated_photo() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    info = probe(encode(scene(64, 48), "JPEG", exif=exif))
    assert (info.width, info.height) == (48, 64)


_JPEG = encode(scene(200, 150), "JPEG", quality=90)

BAD_INPUTS = {
    "empty": (b"", "CORRUPT_INPUT"),
    "jpeg-header-cut": (_JPEG[:40], "CORRUPT_INPUT"),
    "text": (b"hello, this is not an image\n" * 20, "UNSUPPORTED_FORMAT"),
    "pdf": (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n", "UNSUPPORTED_FORMAT"),
    "gif": (encode(scene(16, 16), "GIF"), "UNSUPPORTED_FORMAT"),
    "random": (np.random.default_rng(0).bytes(4096), "UNSUPPORTED_FORMAT"),
    "png-bomb": (png_header_only(50_000, 50_000), "IMAGE_TOO_LARGE"),
    "png-over-guard": (png_header_only(20_000, 6_000), "IMAGE_TOO_LARGE"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_inputs_fail_fast_with_the_right_code(name: str) -> None:
    data, code = BAD_INPUTS[name]
    for call in (lambda: probe(data), lambda: probe(io.BytesIO(data)), lambda: enhance(data, {})):
        started = time.perf_counter()
        with pytest.raises(EngineError) as caught:
            call()
        assert caught.value.code == code, caught.value.message
        assert caught.value.message
        assert time.perf_counter() - started < 2.0  # header checks only: never decodes a bomb


class CountingReader(io.BytesIO):
    """A file that counts the bytes read from it."""

    bytes_read = 0

    def read(self, size: int | None = -1, /) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


# Not WebP: Pillow's WebP plugin reads the whole file to open it.
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF"])
def test_probe_of_a_file_reads_the_header_only(fmt: str) -> None:
    data = encode(scene(64, 48), fmt) + b"\0" * 5_000_000  # a large body Pillow must not read
    file = CountingReader(data)
    assert probe(file) == probe(data)
    assert file.bytes_read < 100_000


def test_guard_is_sensible() -> None:
    assert 20_000 * 6_000 > MAX_INPUT_PIXELS >= 11_996 * 8_996 * 0.9


def test_truncated_jpeg_passes_probe_but_enhance_reports_corrupt_input() -> None:
    truncated = _JPEG[: len(_JPEG) // 2]
    assert probe(truncated).format == "JPEG"  # the header is intact
    with pytest.raises(EngineError) as caught:
        enhance(truncated, {"mode": "ENHANCE"})
    assert caught.value.code == "CORRUPT_INPUT"
