"""Preflight: header reads, option ranges, AI upscaling limits and credit estimates."""

from __future__ import annotations

import struct
import time
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from viesus._errors import (
    BudgetExceeded,
    InsufficientCredits,
    InvalidInput,
    InvalidOption,
    LimitExceeded,
)
from viesus._image_headers import ImageHeader, read_image_header
from viesus._options import validate_options
from viesus._preflight import check_budget, check_limits, estimate_credits
from viesus_client.enhancement_parameters import PARAMETERS
from viesus_client.input_types import CustomColorConfigInput, EnhancedImageInput


def header(width: int, height: int) -> ImageHeader:
    return ImageHeader("JPEG", "image/jpeg", "jpg", width, height)


def opts(**fields: Any) -> EnhancedImageInput:
    return EnhancedImageInput.model_validate(fields)


# --- header reads ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pillow_format", "suffix", "mimetype"),
    [
        ("JPEG", "jpg", "image/jpeg"),
        ("PNG", "png", "image/png"),
        ("TIFF", "tif", "image/tiff"),
        ("WEBP", "webp", "image/webp"),
    ],
)
def test_header_of_each_supported_format(
    tmp_path: Path, pillow_format: str, suffix: str, mimetype: str
) -> None:
    path = tmp_path / f"photo.{suffix}"
    Image.new("RGB", (64, 48), "orange").save(path, format=pillow_format)

    got = read_image_header(path)

    assert got == ImageHeader(pillow_format, mimetype, suffix, 64, 48)


def test_format_comes_from_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "really-a-png.jpg"
    Image.new("RGB", (10, 20)).save(path, format="PNG")

    assert read_image_header(path).format == "PNG"


def test_pdf_is_recognised_without_a_size(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")

    got = read_image_header(path)

    assert (got.format, got.mimetype, got.width, got.height) == (
        "PDF",
        "application/pdf",
        None,
        None,
    )


def test_exif_orientation_is_reported_and_size_stays_as_stored(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated by 90 degrees
    Image.new("RGB", (300, 200)).save(path, format="JPEG", exif=exif)

    got = read_image_header(path)

    assert (got.width, got.height, got.orientation) == (300, 200, 6)


def test_text_file_is_invalid_input_naming_file_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not an image at all\n")

    with pytest.raises(InvalidInput) as caught:
        read_image_header(path)

    assert caught.value.source == str(path)
    assert "JPEG" in str(caught.value)
    assert "convert" in str(caught.value)


@pytest.mark.parametrize("pillow_format", ["JPEG", "PNG", "WEBP"])
def test_truncated_header_is_invalid_input(tmp_path: Path, pillow_format: str) -> None:
    full = tmp_path / "full"
    Image.new("RGB", (64, 48)).save(full, format=pillow_format)
    truncated = tmp_path / "truncated"
    truncated.write_bytes(full.read_bytes()[:12])

    with pytest.raises(InvalidInput, match="damaged"):
        read_image_header(truncated)


def test_missing_file_and_directory_are_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        read_image_header(tmp_path / "absent.jpg")
    with pytest.raises(InvalidInput, match="directory"):
        read_image_header(tmp_path)


def test_unsupported_image_format_is_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "old.gif"
    Image.new("P", (8, 8)).save(path, format="GIF")

    with pytest.raises(InvalidInput, match="not a supported image"):
        read_image_header(path)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG claiming ``width`` x ``height`` whose pixel data is one tiny compressed row."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def test_huge_header_is_read_without_decoding_then_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(50_000, 50_000))

    started = time.perf_counter()
    got = read_image_header(path)
    elapsed = time.perf_counter() - started

    assert (got.format, got.width, got.height) == ("PNG", 50_000, 50_000)
    assert elapsed < 1.0  # decoding 7.5 GB of pixels would take far longer (and fail)
    with pytest.raises(LimitExceeded) as caught:
        check_limits(str(path), got, opts(upscalingFactor="X2"))
    assert caught.value.value == 50_000
    assert caught.value.maximum == 3000


# --- AI upscaling limits ---------------------------------------------------------------------

LIMIT_CASES = [
    # (width, height, options, rejected limit value or None when accepted)
    pytest.param(2999, 2000, {"upscalingFactor": "X4"}, None, id="2999x2000 X4 -> 11996 ok"),
    pytest.param(3000, 3000, {"upscalingFactor": "X2"}, None, id="3000 X2 ok"),
    pytest.param(3001, 1000, {"upscalingFactor": "X2"}, 3001, id="3001 input rejected"),
    pytest.param(1000, 3001, {"upscalingFactor": "X2"}, 3001, id="3001 high rejected"),
    pytest.param(3000, 2000, {"upscalingFactor": "X4"}, 12000, id="3000 X4 -> 12000 rejected"),
    pytest.param(2000, 3000, {"upscalingFactor": "X4"}, 12000, id="portrait X4 rejected"),
    pytest.param(2999, 2999, {"upscalingFactor": "X4"}, None, id="2999 square X4 ok"),
    pytest.param(3000, 2000, {"upscalingCustomWidth": 11996}, None, id="custom 11996 ok"),
    pytest.param(3000, 2000, {"upscalingCustomWidth": 13000}, 4.333, id="custom 13000 rejected"),
    pytest.param(1000, 800, {"upscalingCustomWidth": 4001}, 4.001, id="custom > 4x rejected"),
    pytest.param(1000, 800, {"upscalingCustomWidth": 4000}, None, id="custom exactly 4x ok"),
    pytest.param(1000, 3000, {"upscalingCustomWidth": 4000}, 12000, id="custom tall output"),
    pytest.param(5000, 4000, {}, None, id="no upscaling: no limit"),
    pytest.param(5000, 4000, {"upscalingCustomDPI": 300}, None, id="DPI only: service checks"),
    pytest.param(5000, 4000, {"backgroundRemovalMode": "BLUR"}, None, id="other features"),
]


@pytest.mark.parametrize(("width", "height", "fields", "rejected"), LIMIT_CASES)
def test_upscaling_limits(
    width: int, height: int, fields: dict[str, Any], rejected: float | None
) -> None:
    source = "shots/beach.jpg"
    if rejected is None:
        check_limits(source, header(width, height), opts(**fields))
        return
    with pytest.raises(LimitExceeded) as caught:
        check_limits(source, header(width, height), opts(**fields))
    assert caught.value.source == source
    assert caught.value.value == pytest.approx(rejected, abs=1e-3)
    assert str(caught.value).startswith(source + ": ")


def test_x4_rejection_suggests_x2_or_resizing() -> None:
    with pytest.raises(LimitExceeded) as caught:
        check_limits("a.jpg", header(3000, 2000), opts(upscalingFactor="X4"))

    message = str(caught.value)
    assert "12000" in message
    assert "11996" in message
    assert "use X2 or resize to at most 2999 px" in message


def test_custom_width_rejection_names_the_largest_allowed_width() -> None:
    with pytest.raises(LimitExceeded, match="upscalingCustomWidth at most 4000"):
        check_limits("a.jpg", header(1000, 800), opts(upscalingCustomWidth=5000))


def test_pdf_header_skips_size_limits() -> None:
    pdf = ImageHeader("PDF", "application/pdf", "pdf", None, None)
    check_limits("doc.pdf", pdf, opts(upscalingFactor="X4"))


# --- option ranges ---------------------------------------------------------------------------


def test_defaults_and_in_range_values_pass() -> None:
    validate_options(EnhancedImageInput())
    validate_options(
        opts(
            noiseReductionProfilingStrength=Decimal("0.0"),
            redEyeCorrectionsStrength=Decimal("1.0"),
            upscalingCustomWidth=1,
            customColorConfig={"highlightfac": "0.5", "skinToneAdjFac": 1},
        )
    )


@pytest.mark.parametrize(
    ("fields", "python_name", "graphql_name"),
    [
        (
            {"noiseReductionProfilingStrength": "1.5"},
            "noise_reduction_profiling_strength",
            "noiseReductionProfilingStrength",
        ),
        ({"backgroundRemovalBlur": "-0.1"}, "background_removal_blur", "backgroundRemovalBlur"),
        (
            {"customColorConfig": {"skinToneAdjFac": "2"}},
            "custom_color_config.skin_tone_adj_fac",
            "customColorConfig.skinToneAdjFac",
        ),
        ({"upscalingCustomWidth": 0}, "upscaling_custom_width", "upscalingCustomWidth"),
        ({"upscalingCustomDPI": -300}, "upscaling_custom_dpi", "upscalingCustomDPI"),
    ],
)
def test_out_of_range_option_names_both_names_value_and_range(
    fields: dict[str, Any], python_name: str, graphql_name: str
) -> None:
    with pytest.raises(InvalidOption) as caught:
        validate_options(opts(**fields))

    error = caught.value
    assert isinstance(error, InvalidInput)
    assert (error.python_name, error.graphql_name) == (python_name, graphql_name)
    message = str(error)
    assert python_name in message
    assert graphql_name in message
    assert str(error.value) in message


def test_range_is_named_in_the_message() -> None:
    with pytest.raises(InvalidOption, match=r"value 1\.5 .*from 0\.0 to 1\.0"):
        validate_options(opts(noiseReductionProfilingStrength="1.5"))
    with pytest.raises(InvalidOption, match="at least 1"):
        validate_options(opts(upscalingCustomWidth=-5))


def test_enum_value_outside_the_table_is_rejected() -> None:
    # model_construct skips pydantic validation, as a caller building inputs by hand might.
    unchecked: dict[str, Any] = {"upscaling_factor": "X8"}
    options = EnhancedImageInput.model_construct(**unchecked)

    with pytest.raises(InvalidOption, match="one of X2, X4"):
        validate_options(options)


def test_every_ranged_parameter_in_the_table_is_enforced() -> None:
    for parameter in PARAMETERS:
        if parameter.maximum is None:
            continue
        too_big = parameter.maximum + 1
        head, _, tail = parameter.python_name.partition(".")
        if tail:
            options = EnhancedImageInput.model_validate(
                {head: CustomColorConfigInput.model_validate({tail: too_big})}
            )
        else:
            options = EnhancedImageInput.model_validate({head: too_big})
        with pytest.raises(InvalidOption):
            validate_options(options)


# --- credits ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "credits"),
    [
        pytest.param({}, 1, id="nothing set: default enhancement"),
        pytest.param({"mode": "ENHANCE"}, 1, id="colour"),
        pytest.param({"customColorConfig": {"colorfac": "0.3"}}, 1, id="nested colour"),
        pytest.param({"noiseReductionProfilingMode": "AUTO"}, 1, id="noise"),
        pytest.param({"mode": "ENHANCE", "enhanceFaceDetails": "ENHANCE"}, 1, id="colour+face"),
        pytest.param({"upscalingFactor": "X2"}, 4, id="X2"),
        pytest.param({"upscalingCustomWidth": 2000}, 4, id="custom width"),
        pytest.param({"upscalingFactor": "X2", "backgroundRemovalMode": "REMOVE"}, 4, id="max"),
        pytest.param({"backgroundRemovalBlur": "0.4", "mode": "ENHANCE"}, 4, id="background"),
        pytest.param({"preset": "PORTRAIT"}, 4, id="unknown-feature preset"),
    ],
)
def test_estimate_credits_charges_the_most_expensive_feature(
    fields: dict[str, Any], credits: int
) -> None:
    assert estimate_credits(opts(**fields)) == credits


def test_check_budget() -> None:
    check_budget(9, max_credits=9, remaining=9)
    check_budget(9)

    with pytest.raises(BudgetExceeded) as over_cap:
        check_budget(9, max_credits=5, remaining=100)
    assert (over_cap.value.needed, over_cap.value.budget) == (9, 5)
    assert "max_credits" in str(over_cap.value)

    with pytest.raises(InsufficientCredits) as over_balance:
        check_budget(9, max_credits=None, remaining=3)
    assert (over_balance.value.needed, over_balance.value.available) == (9, 3)
    assert "9" in str(over_balance.value)
    assert "3" in str(over_balance.value)


def test_non_finite_number_is_rejected() -> None:
    options = EnhancedImageInput.model_construct(background_removal_blur=Decimal("NaN"))

    with pytest.raises(InvalidOption, match="finite"):
        validate_options(options)
