"""Upscaling limits, output_size, the processing-time model and the cascade check."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.engine.helpers import encode, scene
from viesus_emulator._engine import (
    EngineError,
    ImageInfo,
    check_installation,
    enhance,
    output_size,
    probe,
    processing_seconds,
)


def _info(width: int, height: int) -> ImageInfo:
    return ImageInfo("JPEG", "image/jpeg", "jpg", width, height)


@pytest.mark.parametrize(
    ("size", "params", "expected"),
    [
        ((1200, 800), {}, (1200, 800)),
        ((1200, 800), {"upscalingFactor": "X2"}, (2400, 1600)),
        ((1200, 800), {"upscalingFactor": "X4"}, (4800, 3200)),
        ((1200, 800), {"upscalingCustomWidth": 3000}, (3000, 2000)),
        ((1200, 800), {"upscalingCustomWidth": 600}, (600, 400)),
        ((2999, 2249), {"upscalingFactor": "X4"}, (11996, 8996)),
        ((4000, 3000), {"mode": "ENHANCE"}, (4000, 3000)),  # no upscaling: no 3,000 px limit
    ],
)
def test_output_size(
    size: tuple[int, int], params: dict[str, Any], expected: tuple[int, int]
) -> None:
    assert output_size(_info(*size), params) == expected


@pytest.mark.parametrize(
    ("size", "params"),
    [
        ((3001, 2000), {"upscalingFactor": "X2"}),  # input over 3,000 px
        ((3000, 2000), {"upscalingFactor": "X4"}),  # 12,000 px > 11,996: rejected, not clamped
        ((1000, 800), {"upscalingCustomWidth": 4001}),  # more than 4x
        ((1000, 800), {"upscalingCustomWidth": 0}),
        ((1000, 800), {"upscalingCustomDPI": 0}),
    ],
)
def test_limits_exceeded(size: tuple[int, int], params: dict[str, Any]) -> None:
    with pytest.raises(EngineError) as caught:
        output_size(_info(*size), params)
    assert caught.value.code == "LIMITS_EXCEEDED"


def test_enhance_enforces_the_limits_before_working() -> None:
    data = encode(scene(3001, 8), "PNG")
    with pytest.raises(EngineError) as caught:
        enhance(data, {"upscalingFactor": "X2"})
    assert caught.value.code == "LIMITS_EXCEEDED"


def test_output_size_matches_enhance() -> None:
    data = encode(scene(150, 100), "JPEG")
    for params in ({"upscalingFactor": "X2"}, {"upscalingCustomWidth": 333}, {}):
        result = enhance(data, params)
        assert output_size(probe(data), params) == (result.width, result.height)


def test_params_accept_decimals_and_ignore_nulls() -> None:
    data = encode(scene(120, 90), "JPEG")
    params = {
        "noiseAdditionProfilingStrength": Decimal("0.3"),
        "backgroundRemovalBlur": None,
        "customColorConfig": {"shadowfac": Decimal("0.7"), "colorfac": None},
        "mode": "ENHANCE",
    }
    assert enhance(data, params).width == 120


SIZES = [(400, 300), (1600, 1200), (3000, 2250), (6000, 4500), (10000, 7500)]
FEATURES: list[dict[str, Any]] = [
    {},
    {"mode": "ENHANCE", "noiseReductionProfilingMode": "AUTO"},
    {"upscalingFactor": "X2"},
    {"upscalingFactor": "X4"},
    {"upscalingCustomWidth": 2000},
    {"backgroundRemovalMode": "BLUR"},
]


@pytest.mark.parametrize("params", FEATURES)
def test_processing_seconds_is_bounded_and_monotone_in_pixels(params: dict[str, Any]) -> None:
    times = [processing_seconds(_info(w, h), params) for w, h in SIZES]
    assert all(2.0 <= t <= 180.0 for t in times)
    assert times == sorted(times)
    assert times[0] < times[-1] or times[-1] == 180.0


def test_processing_seconds_grows_with_heavier_features() -> None:
    info = _info(1600, 1200)
    base = processing_seconds(info, {})
    x2 = processing_seconds(info, {"upscalingFactor": "X2"})
    x4 = processing_seconds(info, {"upscalingFactor": "X4"})
    background = processing_seconds(info, {"backgroundRemovalMode": "REMOVE"})
    assert 2.0 <= base < x2 < x4 <= 180.0
    assert base < background
    assert processing_seconds(_info(2999, 2999), {"upscalingFactor": "X4"}) <= 180.0
    assert 2.0 <= processing_seconds(_info(10, 10), {}) < 3.0  # near the documented minimum


def test_haar_cascades_are_installed() -> None:
    check_installation()  # raises EngineSetupError with OpenCV 5.x (no cascades)
