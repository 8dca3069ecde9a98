"""Local retouching: face details, red-eye correction, film grain."""

from __future__ import annotations

import cv2
import numpy as np

from .arrays import U8, as_f32, to_u8
from .faces import Face, ellipse_mask


def face_details(rgb: U8, faces: list[Face]) -> U8:
    """Unsharp mask inside feathered face ellipses (radius ~ 1/120 of the face width)."""
    if not faces:
        return rgb
    out = rgb.copy()
    for face in faces:
        b = face.box
        pad = max(4, b.w // 4)
        x0, y0 = max(0, b.x - pad), max(0, b.y - pad)
        x1, y1 = min(rgb.shape[1], b.x + b.w + pad), min(rgb.shape[0], b.y + b.h + pad)
        if x1 <= x0 or y1 <= y0:
            continue
        roi = rgb[y0:y1, x0:x1].astype(np.float32)
        sigma = max(0.8, b.w / 120.0)
        blurred = as_f32(cv2.GaussianBlur(roi, (0, 0), sigma))
        sharp = roi + 0.9 * (roi - blurred)
        local = type(b)(b.x - x0, b.y - y0, b.w, b.h)
        mask = ellipse_mask((y1 - y0, x1 - x0), [local])[:, :, None]
        current = out[y0:y1, x0:x1].astype(np.float32)
        out[y0:y1, x0:x1] = to_u8(current * (1.0 - mask) + sharp * mask)
    return out


def red_eye(rgb: U8, faces: list[Face], strength: float | None, eye_strength: float | None) -> U8:
    """Desaturate strictly red pixels inside detected eye boxes."""
    amount = 0.85 if strength is None else strength
    darken = 0.5 if eye_strength is None else eye_strength
    if amount <= 0:
        return rgb
    out = rgb.copy()
    for face in faces:
        for eye in face.eyes:
            x0, y0 = max(0, eye.x), max(0, eye.y)
            x1, y1 = min(rgb.shape[1], eye.x + eye.w), min(rgb.shape[0], eye.y + eye.h)
            if x1 <= x0 or y1 <= y0:
                continue
            roi = out[y0:y1, x0:x1].astype(np.float32)
            r, g, b = roi[:, :, 0], roi[:, :, 1], roi[:, :, 2]
            gb = (g + b) / 2.0
            redness = r / np.maximum(gb, 1.0)
            strict = (r > 60.0) & (redness > 1.8) & (r - np.maximum(g, b) > 40.0)
            if not strict.any():
                continue
            mask = as_f32(cv2.GaussianBlur(strict.astype(np.float32), (0, 0), 0.8))
            mask = np.clip(mask * 1.5, 0.0, 1.0) * np.float32(amount)
            fixed_r = gb * (1.0 - 0.5 * darken)
            scale = 1.0 - 0.5 * darken
            roi[:, :, 0] = r * (1.0 - mask) + fixed_r * mask
            roi[:, :, 1] = g * (1.0 - mask) + g * scale * mask
            roi[:, :, 2] = b * (1.0 - mask) + b * scale * mask
            out[y0:y1, x0:x1] = to_u8(roi)
    return out


def grain(rgb: U8, strength: float, seed: int, strip_rows: int = 512) -> U8:
    """Seeded, mid-tone-weighted luminance grain; amplitude up to ~14 grey levels at 1.0."""
    if strength <= 0:
        return rgb
    rng = np.random.default_rng(seed)
    out = np.empty_like(rgb)
    amplitude = np.float32(14.0 * strength)
    for top in range(0, rgb.shape[0], strip_rows):
        strip = rgb[top : top + strip_rows].astype(np.float32)
        luma = strip @ np.array([0.299, 0.587, 0.114], dtype=np.float32) / np.float32(255.0)
        weight = np.float32(0.25) + np.float32(3.0) * luma * (1.0 - luma)  # peak at mid-grey
        noise = rng.standard_normal(luma.shape, dtype=np.float32)
        strip += (noise * weight * amplitude)[:, :, None]
        out[top : top + strip_rows] = to_u8(strip)
    return out
