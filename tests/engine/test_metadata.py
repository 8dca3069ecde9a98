"""Output format, EXIF orientation, ICC profile, DPI, bit depth, alpha, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from tests.engine.helpers import U8, encode, open_image, pixels, scene
from viesus_emulator._engine import enhance

NO_PIXEL_CHANGE = {"upscalingCustomDPI": 300}  # a parameter that touches metadata only

FORMATS = ["JPEG", "PNG", "TIFF", "WEBP"]


def _srgb_profile() -> bytes:
    return bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())


@pytest.mark.parametrize("fmt", FORMATS)
def test_format_is_kept(fmt: str) -> None:
    result = enhance(encode(scene(120, 90), fmt), {"mode": "ENHANCE"})
    assert result.format == fmt
    assert open_image(result.data).format == fmt
    assert (result.width, result.height) == open_image(result.data).size == (120, 90)


def test_exif_orientation_is_applied_and_reset() -> None:
    stored = scene(120, 80)
    stored[:20, :30] = (255, 0, 0)  # a red marker in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    exif[0x010F] = "TestCam"  # Make: other tags must survive
    data = encode(stored, "JPEG", quality=95, exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(open_image(data)).convert("RGB"))

    result = enhance(data, NO_PIXEL_CHANGE)
    out = open_image(result.data)
    assert (result.width, result.height) == out.size == (80, 120)
    assert out.getexif().get(0x0112, 1) == 1  # pixels are upright, so the tag says so
    assert out.getexif().get(0x010F) == "TestCam"
    assert np.abs(np.asarray(out.convert("RGB"), dtype=float) - expected).mean() < 3.0
    # The marker now sits top-right, where a viewer showed it.
    assert pixels(result.data)[10, 70, 0] > 200


@pytest.mark.parametrize("fmt", FORMATS)
def test_icc_profile_survives(fmt: str) -> None:
    icc = _srgb_profile()
    result = enhance(encode(scene(96, 64), fmt, icc_profile=icc), {"mode": "ENHANCE"})
    assert open_image(result.data).info.get("icc_profile") == icc


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF"])
def test_dpi_is_set_when_asked_and_kept_otherwise(fmt: str) -> None:
    data = encode(scene(96, 64), fmt, dpi=(72, 72))
    asked = open_image(enhance(data, {"upscalingCustomDPI": 300}).data).info["dpi"]
    assert asked == pytest.approx((300, 300), abs=0.01)
    kept = open_image(enhance(data, {"mode": "ENHANCE"}).data).info["dpi"]
    assert kept == pytest.approx((72, 72), abs=0.01)


def test_webp_dpi_goes_into_exif() -> None:
    result = enhance(encode(scene(96, 64), "WEBP"), {"upscalingCustomDPI": 240})
    exif = open_image(result.data).getexif()
    assert float(exif[282]) == float(exif[283]) == 240.0
    assert exif[296] == 2  # inches


def test_tiff_with_exif_is_written() -> None:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    result = enhance(encode(scene(96, 64), "TIFF", exif=exif), {"upscalingFactor": "X2"})
    out = open_image(result.data)
    assert out.size == (192, 128)
    assert out.getexif().get(0x010F) == "TestCam"


def test_sixteen_bit_grey_is_scaled_to_eight_bit_grey() -> None:
    ramp = np.tile(np.linspace(0, 65535, 128).astype(np.uint16), (64, 1))
    data = encode(Image.fromarray(ramp), "PNG")
    out = open_image(enhance(data, NO_PIXEL_CHANGE).data)
    assert out.mode == "L"
    values = np.asarray(out)
    assert values[:, 0].max() < 3
    assert values[:, -1].min() > 252
    assert 120 < values[:, 64].mean() < 136  # scaled, not clipped at 255


def test_alpha_of_the_input_is_kept() -> None:
    rgba = np.dstack([scene(96, 64), np.full((64, 96), 255, dtype=np.uint8)])
    rgba[:, :20, 3] = 0
    out = pixels(enhance(encode(rgba), {"mode": "ENHANCE"}).data, "RGBA")
    assert out[:, :20, 3].max() == 0
    assert out[:, 30:, 3].min() == 255


def test_greyscale_stays_greyscale() -> None:
    grey = np.asarray(Image.fromarray(scene(96, 64)).convert("L"))
    assert open_image(enhance(encode(grey, "JPEG"), {}).data).mode == "L"


def test_same_seed_same_bytes(astronaut: U8) -> None:
    data = encode(astronaut[::2, ::2].copy(), "JPEG")
    params = {
        "mode": "ENHANCE",
        "noiseAdditionProfilingStrength": 0.4,
        "backgroundRemovalMode": "BLUR",
        "enhanceFaceDetails": "ENHANCE",
    }
    first = enhance(data, params, seed=7)
    assert enhance(data, params, seed=7).data == first.data
    assert enhance(data, params, seed=8).data != first.data
