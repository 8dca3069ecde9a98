"""Inputs over the AI-upscaling input limit, downscaled before upload when asked.

The service refuses AI upscaling of an input over 3,000 px on its longer side [docs]. A lab
with 6,000 px camera files would rather have them fitted than refused (``downscale=True``,
``--downscale-to-fit``; off by default, since it changes the input). The copy is written once
per upload beside the outputs (hidden, removed once uploaded), in the input's format, with
its EXIF and ICC profile; the result and the report say what was resized from what.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from viesus._errors import LimitExceeded
from viesus._image_headers import ImageHeader
from viesus._preflight import MAX_UPSCALE_INPUT_SIDE, MAX_UPSCALE_OUTPUT_SIDE
from viesus._preflight import check_limits as _check_limits
from viesus_client.input_types import EnhancedImageInput

FOLDER = ".viesus-downscaled"


def fitted(
    source: str, header: ImageHeader, options: EnhancedImageInput
) -> tuple[ImageHeader, tuple[int, int] | None]:
    """The header the service will see and the size to downscale to (``None``: as it is).

    Only an input the limits refuse for its size is fitted; a refusal a resize cannot cure
    (the output limit of a custom width, the pixel cap of a non-upscaled image) stands."""
    try:
        _check_limits(source, header, options)
        return header, None
    except LimitExceeded as refused:
        if header.width is None or header.height is None:
            raise
        size = _fitting_size(header.width, header.height, options)
        if size is None:
            raise
        smaller = replace(header, width=size[0], height=size[1])
        try:
            _check_limits(source, smaller, options)
        except LimitExceeded:
            raise refused from None
        return smaller, size


def _fitting_size(width: int, height: int, options: EnhancedImageInput) -> tuple[int, int] | None:
    """The largest size with the longer side within the input limit (and within the output
    limit once enlarged by the asked factor)."""
    factor = options.upscaling_factor
    enlargement = 4 if factor is not None and str(getattr(factor, "value", factor)) == "X4" else 2
    longest = min(MAX_UPSCALE_INPUT_SIDE, MAX_UPSCALE_OUTPUT_SIDE // enlargement)
    if max(width, height) <= longest:
        return None
    scale = longest / max(width, height)
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def write_downscaled(path: Path, size: tuple[int, int], folder: Path, tag: str) -> Path:
    """A copy of ``path`` at ``size`` (Lanczos), same format, EXIF and ICC kept; its path."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{tag}{path.suffix.lower()}"
    with Image.open(path) as image:
        extra = {k: image.info[k] for k in ("exif", "icc_profile", "dpi") if k in image.info}
        image_format = image.format
        resized = image.resize(size, Image.Resampling.LANCZOS)
    partial = target.with_name(target.name + ".partial")
    quality = {"quality": 95} if image_format in ("JPEG", "WEBP") else {}
    resized.save(partial, format=image_format, **extra, **quality)
    partial.replace(target)
    return target
