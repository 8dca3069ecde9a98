"""Upscaling: the output size, the documented limits, and the resampling itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import cv2
import numpy as np

from .arrays import U8, as_u8
from .model import EngineError, ImageInfo
from .params import Params, parse

MAX_UPSCALE_INPUT_SIDE: Final[int] = 3_000
MAX_UPSCALE_FACTOR: Final[int] = 4
MAX_OUTPUT_SIDE: Final[int] = 11_996
MAX_DPI: Final[int] = 10_000


def target_size(width: int, height: int, params: Params) -> tuple[int, int]:
    """The output (width, height) for an input of width x height (no validation)."""
    if params.upscaling_width is not None:
        new_width = params.upscaling_width
        new_height = max(1, round(height * new_width / width))
        return new_width, new_height
    if params.upscaling_factor is not None:
        return width * params.upscaling_factor, height * params.upscaling_factor
    return width, height


def check_limits(width: int, height: int, params: Params) -> tuple[int, int]:
    """Validate an upscaling request against the documented limits; return the output size."""
    if params.dpi is not None and not 1 <= params.dpi <= MAX_DPI:
        raise EngineError("LIMITS_EXCEEDED", f"upscalingCustomDPI must be 1-{MAX_DPI}")
    if params.upscaling_width is None and params.upscaling_factor is None:
        return width, height
    if params.upscaling_width is not None and params.upscaling_width < 1:
        raise EngineError("LIMITS_EXCEEDED", "upscalingCustomWidth must be at least 1 px")
    if max(width, height) > MAX_UPSCALE_INPUT_SIDE:
        raise EngineError(
            "LIMITS_EXCEEDED",
            f"upscaling accepts inputs of at most {MAX_UPSCALE_INPUT_SIDE} px a side; "
            f"this one is {width}x{height}",
        )
    out_w, out_h = target_size(width, height, params)
    if out_w > width * MAX_UPSCALE_FACTOR:
        raise EngineError(
            "LIMITS_EXCEEDED",
            f"an output width of {out_w} px enlarges {width} px more than {MAX_UPSCALE_FACTOR}x",
        )
    if max(out_w, out_h) > MAX_OUTPUT_SIDE:
        raise EngineError(
            "LIMITS_EXCEEDED",
            f"the output would be {out_w}x{out_h}; at most {MAX_OUTPUT_SIDE} px a side is allowed",
        )
    return out_w, out_h


def output_size(info: ImageInfo, params: Mapping[str, Any]) -> tuple[int, int]:
    """The pixel size `enhance` will produce for this input and these GraphQL params.

    Raises EngineError("LIMITS_EXCEEDED") when the request breaks the documented limits, so the
    server can refuse a job before queuing it. Sizes are as displayed (EXIF orientation applied).
    """
    return check_limits(info.width, info.height, parse(params))


def unsharp(image: U8, sigma: float, amount: float) -> U8:
    """Classic unsharp mask in uint8 (no float copy of a possibly 100+ MP image)."""
    blurred = cv2.GaussianBlur(image, (0, 0), sigma)
    return as_u8(cv2.addWeighted(image, 1.0 + amount, blurred, -amount, 0))


def resize(image: U8, size: tuple[int, int]) -> U8:
    """Resize to `size` = (width, height): Lanczos + mild unsharp up, area resampling down."""
    height, width = image.shape[:2]
    new_w, new_h = size
    if (new_w, new_h) == (width, height):
        return image
    if new_w < width:
        return as_u8(cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA))
    scale = new_w / width
    out = as_u8(cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LANCZOS4))
    if image.ndim == 3 and image.shape[2] == 4:
        # Sharpen colour only: an overshooting alpha would grow halos around cut-outs.
        colour = unsharp(np.ascontiguousarray(out[:, :, :3]), 0.5 * scale, 0.35 + 0.1 * scale)
        return np.dstack([colour, out[:, :, 3]])
    return unsharp(out, 0.5 * scale, 0.35 + 0.1 * scale)
