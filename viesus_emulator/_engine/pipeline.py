"""`enhance`: decode, run the requested steps in a fixed order, encode."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from . import background as bg
from . import colour, denoise, faces, formats, retouch, upscale
from . import io as imgio
from .arrays import U8
from .model import EngineError, EngineResult
from .params import ColorConfig, Params, parse


def _decode_background(data: bytes | None) -> U8:
    if not data:
        raise EngineError(
            "BACKGROUND_UNREADABLE",
            "backgroundRemovalMode REPLACE needs a replacement image "
            "(backgroundRemovalReplaceImageUrl), and none was given",
        )
    try:
        decoded = imgio.decode(data)
    except EngineError as exc:
        raise EngineError(
            "BACKGROUND_UNREADABLE", f"the replacement background is unusable: {exc.message}"
        ) from exc
    return decoded.rgb


class _Faces:
    """Face detection run at most once per job, when the first step needs it."""

    def __init__(self) -> None:
        self._found: list[faces.Face] | None = None

    def get(self, rgb: U8) -> list[faces.Face]:
        if self._found is None:
            self._found = faces.detect(rgb)
        return self._found


def _run(
    data: bytes, p: Params, background: bytes | None, seed: int
) -> tuple[bytes, str, int, int]:
    decoded = imgio.decode(data)
    height, width = decoded.rgb.shape[:2]
    out_size = upscale.check_limits(width, height, p)
    replacement = _decode_background(background) if p.background == "REPLACE" else None

    rgb = decoded.rgb
    alpha = decoded.alpha
    found = _Faces()
    if p.artifacts:
        rgb = denoise.remove_artifacts(rgb, decoded.quant_mean)
    if p.denoise:
        rgb = denoise.reduce_noise(rgb, p.denoise_strength, p.denoise_mono_strength)
    if p.colour_correction:
        cfg = p.colour or ColorConfig()
        needs_faces = not decoded.grey and (cfg.skin_tone_adj > 0 or cfg.addflashfac > 0)
        rgb = colour.auto_correct(rgb, cfg, found.get(rgb) if needs_faces else None)
    if p.red_eye and not decoded.grey:
        rgb = retouch.red_eye(rgb, found.get(rgb), p.red_eye_strength, p.red_eye_eye_strength)
    if p.face_details:
        rgb = retouch.face_details(rgb, found.get(rgb))
    if p.background is not None:
        mask = bg.subject_mask(rgb, found.get(rgb), seed)
        if p.background == "BLUR":
            blur = 0.5 if p.background_blur is None else p.background_blur
            rgb = bg.blur_background(rgb, mask, blur)
        elif p.background == "REMOVE":
            alpha = bg.alpha_from_mask(mask, alpha)
        elif replacement is not None:
            rgb = bg.replace_background(rgb, mask, replacement)
    grey = decoded.grey and p.background != "REPLACE"
    if out_size != (width, height):
        if alpha is not None:
            rgba = upscale.resize(np.dstack([rgb, alpha]), out_size)
            rgb, alpha = np.ascontiguousarray(rgba[:, :, :3]), np.ascontiguousarray(rgba[:, :, 3])
        else:
            rgb = upscale.resize(rgb, out_size)
    if p.grain is not None:
        rgb = retouch.grain(rgb, p.grain, seed)

    fmt = imgio.output_format(decoded.info.format, alpha is not None)
    dpi = decoded.dpi if p.dpi is None else (float(p.dpi), float(p.dpi))
    encoded = imgio.encode(
        rgb,
        alpha,
        fmt=fmt,
        grey=grey,
        icc=decoded.icc,
        dpi=dpi,
        exif=decoded.exif,
    )
    return encoded, fmt, rgb.shape[1], rgb.shape[0]


def enhance(
    data: bytes,
    params: Mapping[str, Any],
    *,
    background: bytes | None = None,
    seed: int = 0,
) -> EngineResult:
    """Enhance the image `data` as the GraphQL `EnhancedImageInput` `params` ask.

    Synchronous and CPU-bound: call it in a worker thread. Every input problem raises
    EngineError (UNSUPPORTED_FORMAT, CORRUPT_INPUT, IMAGE_TOO_LARGE, LIMITS_EXCEEDED,
    BACKGROUND_UNREADABLE); `faces.EngineSetupError` signals a broken installation.
    """
    p = parse(params)
    try:
        encoded, fmt, width, height = _run(data, p, background, seed)
    except (EngineError, faces.EngineSetupError):
        raise
    except MemoryError as exc:
        raise EngineError("IMAGE_TOO_LARGE", "not enough memory to process this image") from exc
    except Exception as exc:  # OpenCV/NumPy failures on pathological pixel data
        raise EngineError(
            "CORRUPT_INPUT", f"the image could not be processed ({type(exc).__name__}: {exc})"
        ) from exc
    return EngineResult(
        data=encoded,
        format=fmt,
        mimetype=formats.mimetype(fmt),
        extension=formats.extension(fmt),
        width=width,
        height=height,
    )
