"""A model of the service's documented 2-180 s processing time, for the emulator's queue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .model import ImageInfo
from .params import parse
from .upscale import target_size

MIN_SECONDS: Final[float] = 2.0
MAX_SECONDS: Final[float] = 180.0


def processing_seconds(info: ImageInfo, params: Mapping[str, Any]) -> float:
    """Modelled service processing time in seconds for this input and these params."""
    p = parse(params)
    mp = info.width * info.height / 1e6
    out_w, out_h = target_size(info.width, info.height, p)
    out_mp = max(out_w * out_h, 1) / 1e6
    seconds = MIN_SECONDS + 0.4 * mp + 0.15 * out_mp  # decode, encode
    if p.colour_correction:
        seconds += 0.5 + 0.6 * mp
    if p.denoise:
        seconds += 1.0 + 2.5 * mp
    if p.artifacts:
        seconds += 0.5 + 1.0 * mp
    if p.face_details or p.red_eye:
        seconds += 1.5 + 0.3 * mp
    if p.grain is not None:
        seconds += 0.3 + 0.2 * out_mp
    if p.upscaling_factor is not None or p.upscaling_width is not None:
        # Fixed parts depend on the request only, so the model stays monotone in the pixels.
        fixed = 6.0 if p.upscaling_width is not None else 4.0 * (p.upscaling_factor or 1) / 2
        seconds += fixed + 1.1 * out_mp
    if p.background is not None:
        seconds += 10.0 + 3.0 * mp
    return float(min(MAX_SECONDS, max(MIN_SECONDS, seconds)))
