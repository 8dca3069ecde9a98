"""Checks before spending, end to end: every refusal happens before the first upload.

Each case was reproduced against the facade before it was fixed (issue 8): options as a plain
dict skipped validation, the estimate and ``max_credits``; misspelled options were dropped;
the output folder was first checked after paying; a huge image was uploaded when not upscaling;
``None`` as a source raised ``TypeError``.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageFile

from tests.facade.conftest import requests_for
from viesus import (
    AsyncViesus,
    BudgetExceeded,
    EnhanceOptions,
    InsufficientCredits,
    InvalidInput,
    LimitExceeded,
)
from viesus._api_errors import graphql_error
from viesus._errors import InvalidOption
from viesus._image_headers import read_image_header
from viesus._options import as_options
from viesus._preflight import (
    MAX_INPUT_PIXELS,
    check_limits,
    check_output_folder,
)
from viesus_client.exceptions import GraphQLClientGraphQLError
from viesus_emulator import Emulator


def uploads_sent(emu: Emulator) -> int:
    return requests_for(emu, "CreateSignedUploadUrls") + requests_for(emu, "CreateUploadsFromUrl")


# --- options given as a dict ----------------------------------------------------------------


async def test_dict_options_are_priced_and_capped_like_enhance_options(
    emulator: Emulator, viesus: AsyncViesus, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    with pytest.raises(BudgetExceeded) as caught:
        await viesus.enhance(
            photos(1)[0], {"upscalingFactor": "X2"}, tmp_path / "out", max_credits=1
        )

    assert (caught.value.needed, caught.value.budget) == (4, 1)
    assert uploads_sent(emulator) == 0
    assert emulator.stats()["jobs"]["total"] == 0


@pytest.mark.parametrize(
    "given",
    [
        {"upscalingFactor": "X2", "customColorConfig": {"highlightfac": 0.5}},
        {"upscaling_factor": "X2", "custom_color_config": {"highlightfac": 0.5}},
    ],
    ids=["graphql-names", "snake_case"],
)
def test_dict_options_convert_with_either_spelling(given: dict[str, Any]) -> None:
    options = as_options(given)

    assert isinstance(options, EnhanceOptions)
    assert options.upscaling_factor is not None
    assert options.upscaling_factor.value == "X2"
    assert options.custom_color_config is not None


def test_dict_option_out_of_range_is_refused_naming_it() -> None:
    with pytest.raises(InvalidOption) as caught:
        as_options({"noiseReductionProfilingStrength": 7})

    assert caught.value.python_name == "noise_reduction_profiling_strength"
    assert "from 0" in str(caught.value)


def test_dict_option_of_the_wrong_type_names_the_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        as_options({"upscalingFactor": "X3"})

    assert "upscalingFactor" in str(caught.value)
    assert "X2" in str(caught.value)  # the allowed values


@pytest.mark.parametrize(
    ("build", "suggestion"),
    [
        (lambda: as_options({"upscaling_factr": "X2"}), "upscaling_factor"),
        (lambda: as_options({"upscalingFactr": "X2"}), "upscalingFactor"),
        (lambda: EnhanceOptions(upscaling_factr="X2"), "upscaling_factor"),  # type: ignore[call-arg]
        (
            lambda: as_options({"customColorConfig": {"highlightfak": 0.5}}),
            "highlightfac",
        ),
    ],
    ids=["dict-snake", "dict-graphql", "kwargs", "nested"],
)
def test_misspelled_option_is_refused_with_the_closest_name(
    build: Callable[[], object], suggestion: str
) -> None:
    with pytest.raises(InvalidOption) as caught:
        build()

    assert f"did you mean {suggestion}" in str(caught.value)


def test_options_of_another_type_are_refused() -> None:
    with pytest.raises(InvalidInput, match="options"):
        as_options(["upscalingFactor", "X2"])


async def test_misspelled_dict_option_charges_nothing(
    emulator: Emulator, viesus: AsyncViesus, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    with pytest.raises(InvalidOption, match="upscaling_factor"):
        await viesus.enhance(photos(1)[0], {"upscaling_factr": "X2"}, tmp_path / "o")

    assert emulator.stats()["requests"]["total"] == 0


# --- sources ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [None, 42, b"photo.jpg"])
async def test_a_source_that_is_not_a_path_or_url_is_invalid_input(
    emulator: Emulator,
    viesus: AsyncViesus,
    photos: Callable[..., list[Path]],
    tmp_path: Path,
    bad: Any,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        async for _ in viesus.enhance_many([photos(1)[0], bad], None, tmp_path / "o"):
            pass

    assert caught.value.source == "sources[1]"
    assert type(bad).__name__ in str(caught.value)
    assert emulator.stats()["requests"]["total"] == 0
    with pytest.raises(InvalidInput, match="source"):
        await viesus.enhance(bad, None, tmp_path / "o")


async def test_a_single_string_given_as_the_sources_is_refused(viesus: AsyncViesus) -> None:
    with pytest.raises(InvalidInput, match=r"enhance\(\)"):
        async for _ in viesus.enhance_many("photo.jpg"):
            pass


# --- the output folder -----------------------------------------------------------------------


async def test_output_folder_that_is_a_file_is_refused_before_uploading(
    emulator: Emulator, viesus: AsyncViesus, photos: Callable[..., list[Path]], tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "out"
    not_a_folder.write_text("I am a file")

    with pytest.raises(InvalidInput) as caught:
        await viesus.enhance(photos(1)[0], None, not_a_folder)

    assert caught.value.source == str(not_a_folder)
    assert "not a folder" in caught.value.reason
    assert emulator.stats()["requests"]["total"] == 0


def test_output_folder_below_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")

    with pytest.raises(InvalidInput) as caught:
        check_output_folder(tmp_path / "file" / "out")

    assert "file" in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_output_folder_without_write_permission_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)

    with pytest.raises(InvalidInput, match="permission"):
        check_output_folder(locked)


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (PermissionError(13, "Permission denied"), "no permission"),
        (OSError(28, "No space"), "No space"),
    ],
)
def test_output_folder_where_no_file_can_be_made_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: OSError, expected: str
) -> None:
    """As root the permission case above cannot happen; the probe's failure is simulated."""

    def refuse(*args: object, **kwargs: object) -> object:
        raise failure

    monkeypatch.setattr("viesus._preflight.tempfile.NamedTemporaryFile", refuse)

    with pytest.raises(InvalidInput, match=expected) as caught:
        check_output_folder(tmp_path)

    assert caught.value.source == str(tmp_path)


def test_output_folder_is_created_and_left_clean(tmp_path: Path) -> None:
    check_output_folder(tmp_path / "new" / "out")

    assert list((tmp_path / "new" / "out").iterdir()) == []


# --- pixel limit -----------------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png_with(width: int, height: int, idat: bytes, exif_after_idat: bytes | None = None) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    tail = png_chunk(b"eXIf", exif_after_idat) if exif_after_idat is not None else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + tail
        + png_chunk(b"IEND", b"")
    )


async def test_huge_image_is_refused_even_without_upscaling(
    emulator: Emulator, viesus: AsyncViesus, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.png"
    huge.write_bytes(png_with(50_000, 50_000, zlib.compress(b"\x00" * 64)))

    with pytest.raises(LimitExceeded) as caught:
        await viesus.enhance(huge, None, tmp_path / "out")

    assert caught.value.value == 2_500_000_000
    assert caught.value.maximum == MAX_INPUT_PIXELS
    assert "assumption" in str(caught.value)
    assert emulator.stats()["requests"]["total"] == 0


def test_pixel_limit_applies_to_a_size_known_only_after_a_url_upload() -> None:
    from viesus._image_headers import ImageHeader

    header = ImageHeader("JPEG", "image/jpeg", "jpg", 20_000, 10_000)
    with pytest.raises(LimitExceeded, match="200,000,000, the limit is 178,956,970"):
        check_limits("https://example.test/big.jpg", header, EnhanceOptions())
    check_limits("ok", ImageHeader("JPEG", "image/jpeg", "jpg", 10_000, 10_000), EnhanceOptions())


# --- header reads decode no pixel --------------------------------------------------------------


def orientation_exif(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def test_png_orientation_after_the_pixel_data_is_read_without_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pillow's ``getexif`` loads (decodes) a whole PNG to reach an eXIf chunk after IDAT."""
    loads: list[object] = []
    original = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile) -> Any:
        loads.append(self)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    path = tmp_path / "rotated.png"
    path.write_bytes(png_with(64, 48, zlib.compress(b"\x00" * (48 * 193)), orientation_exif(6)))

    got = read_image_header(path)

    assert (got.width, got.height, got.orientation) == (64, 48, 6)
    assert loads == []


@pytest.mark.parametrize("pillow_format", ["JPEG", "PNG", "TIFF", "WEBP"])
def test_no_format_decodes_pixels_for_its_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pillow_format: str
) -> None:
    path = tmp_path / f"photo.{pillow_format.lower()}"
    exif = Image.Exif()
    exif[0x0112] = 8
    Image.new("RGB", (40, 30), "teal").save(path, format=pillow_format, exif=exif)
    loads: list[object] = []
    original = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile) -> Any:
        loads.append(self)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)

    got = read_image_header(path)

    assert (got.width, got.height, got.orientation) == (40, 30, 8)
    assert loads == []


# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child started by a big pytest
# process would report the parent's peak and every comparison would come out equal.
PEAK_RSS_AFTER = """
import sys
from pathlib import Path
from viesus._image_headers import read_image_header
header = read_image_header(Path(sys.argv[1]))
assert header.orientation == 3, header
status = Path("/proc/self/status").read_text().splitlines()
print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")))
"""


def peak_rss_kib(path: Path) -> int:
    """Peak RSS of a fresh interpreter that reads ``path``'s header (Pillow's pixel buffers
    are allocated in C, invisible to tracemalloc, so the process is measured instead)."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_AFTER, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    return int(done.stdout.strip())


def test_header_of_a_large_png_decodes_no_pixels(tmp_path: Path) -> None:
    """8000 x 8000 RGB is 192 MB decoded; reading its header must not grow the process by it."""
    row = b"\x00" + b"\x7f" * (8000 * 3)
    compressor = zlib.compressobj(1)
    idat = b"".join(compressor.compress(row) for _ in range(8000)) + compressor.flush()
    large = tmp_path / "large.png"
    large.write_bytes(png_with(8000, 8000, idat, orientation_exif(3)))
    small = tmp_path / "small.png"
    small.write_bytes(png_with(8, 8, zlib.compress(b"\x00" * (8 * 25)), orientation_exif(3)))

    growth_mib = (peak_rss_kib(large) - peak_rss_kib(small)) / 1024

    assert growth_mib < 16, f"reading the header grew the peak RSS by {growth_mib:.0f} MiB"


def webp_with(width: int, height: int, frame_bytes: int, exif: bytes) -> bytes:
    """An extended WebP: ``VP8X`` (canvas size, EXIF flag), a ``VP8 `` chunk of
    ``frame_bytes`` (a valid frame header, then filler) and the ``EXIF`` chunk after it."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return kind + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")

    canvas = bytes([0x08, 0, 0, 0]) + (width - 1).to_bytes(3, "little")
    canvas += (height - 1).to_bytes(3, "little")
    frame = b"\x00\x00\x00\x9d\x01\x2a" + struct.pack("<HH", width, height)
    body = chunk(b"VP8X", canvas) + chunk(b"VP8 ", frame.ljust(frame_bytes, b"\x00"))
    body += chunk(b"EXIF", exif)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def test_header_of_a_large_webp_does_not_read_the_file(tmp_path: Path) -> None:
    """Pillow's WebP plugin reads the whole file to open it (+175 MB for a 92 MB WebP)."""
    large = tmp_path / "large.webp"
    large.write_bytes(webp_with(8000, 6000, 80_000_000, orientation_exif(3)))
    small = tmp_path / "small.webp"
    small.write_bytes(webp_with(80, 60, 1_000, orientation_exif(3)))
    assert (read_image_header(large).width, read_image_header(large).height) == (8000, 6000)

    growth_mib = (peak_rss_kib(large) - peak_rss_kib(small)) / 1024

    assert growth_mib < 16, f"reading the header grew the peak RSS by {growth_mib:.0f} MiB"


# --- server-side refusals --------------------------------------------------------------------


def test_server_insufficient_credits_without_numbers_shows_what_is_known() -> None:
    error = GraphQLClientGraphQLError(
        message="not enough credits left this period",
        extensions={"code": "INSUFFICIENT_CREDITS"},
    )

    mapped = graphql_error(error)

    assert isinstance(mapped, InsufficientCredits)
    assert "-1" not in str(mapped)
    assert "not enough credits left this period" in str(mapped)
    assert mapped.needed is None
