"""Portrait background handling: BLUR, REMOVE (alpha) and REPLACE."""

from __future__ import annotations

import contextlib
from typing import Final

import cv2
import numpy as np

from .arrays import F32, U8, as_f32, as_u8, to_u8
from .faces import Face

MASK_MAX_SIDE: Final[int] = 384
GRABCUT_ITERATIONS: Final[int] = 4


def _seed_mask(height: int, width: int, faces: list[Face], scale: float) -> U8:
    mask = np.full((height, width), cv2.GC_BGD, dtype=np.uint8)
    if faces:
        box = faces[0].box
        fx, fy = box.x * scale, box.y * scale
        fw, fh = box.w * scale, box.h * scale
        # A generous head-and-shoulders outline: probable subject inside, background outside.
        outline = np.array(
            [
                (fx - 0.5 * fw, fy - 0.5 * fh),
                (fx + 1.5 * fw, fy - 0.5 * fh),
                (fx + 1.5 * fw, fy + 1.2 * fh),
                (fx + 2.7 * fw, fy + 1.8 * fh),
                (fx + 2.7 * fw, height),
                (fx - 1.7 * fw, height),
                (fx - 1.7 * fw, fy + 1.8 * fh),
                (fx - 0.5 * fw, fy + 1.2 * fh),
            ],
            dtype=np.float64,
        )
        cv2.fillPoly(mask, [np.rint(outline).astype(np.int32)], int(cv2.GC_PR_FGD))
        # Certain subject: the face core and the neck/torso column straight below it.
        cx, cy = round(fx + fw / 2), round(fy + fh / 2)
        core = (max(1, round(fw * 0.3)), max(1, round(fh * 0.38)))
        cv2.ellipse(mask, (cx, cy), core, 0, 0, 360, int(cv2.GC_FGD), -1)
        torso_top = round(fy + 1.05 * fh)
        mask[torso_top:, max(0, round(fx + 0.3 * fw)) : max(0, round(fx + 0.7 * fw))] = cv2.GC_FGD
    else:
        y0, y1 = round(height * 0.1), round(height * 0.95)
        x0, x1 = round(width * 0.15), round(width * 0.85)
        mask[y0:y1, x0:x1] = cv2.GC_PR_FGD
        cy, cx = round(height * 0.55), round(width * 0.5)
        core = (max(1, round(width * 0.08)), max(1, round(height * 0.12)))
        cv2.ellipse(mask, (cx, cy), core, 0, 0, 360, int(cv2.GC_FGD), -1)
    # A frame of certain background, except at the bottom where a portrait's body is cut off.
    border = max(1, round(min(height, width) * 0.02))
    mask[:border, :] = cv2.GC_BGD
    mask[:, :border] = cv2.GC_BGD
    mask[:, width - border :] = cv2.GC_BGD
    return mask


def subject_mask(rgb: U8, faces: list[Face], seed: int) -> F32:
    """Soft subject mask (0-1) at the size of `rgb`."""
    height, width = rgb.shape[:2]
    scale = min(1.0, MASK_MAX_SIDE / max(height, width))
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    small = as_u8(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
    sh, sw = small.shape[:2]
    scale_x = sw / width
    mask = _seed_mask(sh, sw, faces, scale_x)
    if not (mask == cv2.GC_BGD).any() or not (mask != cv2.GC_BGD).any():
        return np.ones((height, width), dtype=np.float32)
    bgd = np.zeros((1, 65), dtype=np.float64)
    fgd = np.zeros((1, 65), dtype=np.float64)
    cv2.setRNGSeed(seed)
    # Degenerate inputs (e.g. one flat colour) leave GrabCut without two colour models and it
    # raises: the seed mask itself is then the answer.
    with contextlib.suppress(cv2.error):
        cv2.grabCut(small, mask, (0, 0, 0, 0), bgd, fgd, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    fg = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.float32)
    # Keep the largest component: GrabCut can leave specks in the background.
    fg8 = (fg > 0.5).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(fg8, connectivity=8)
    if int(count) > 2:
        areas = np.asarray(stats, dtype=np.int64)[1:, cv2.CC_STAT_AREA]
        keep = 1 + int(np.argmax(areas))
        fg = (np.asarray(labels) == keep).astype(np.float32)
    soft = as_f32(cv2.GaussianBlur(fg, (0, 0), 1.0))
    full = as_f32(cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR))
    feather = max(1.0, min(height, width) / 400.0)
    full = as_f32(cv2.GaussianBlur(full, (0, 0), feather))
    return np.clip(full, 0.0, 1.0)


def _wide_blur(x: F32, sigma: float) -> F32:
    """A large Gaussian blur computed at reduced resolution (same look, a fraction of the cost).

    A sigma of 25 px needs a ~150 px kernel at full size; shrinking by sigma/3 first keeps the
    kernel small and the result is indistinguishable after the blur.
    """
    height, width = x.shape[:2]
    factor = max(1.0, sigma / 3.0)
    if factor < 1.5:
        return as_f32(cv2.GaussianBlur(x, (0, 0), sigma))
    size = (max(1, round(width / factor)), max(1, round(height / factor)))
    small = as_f32(cv2.resize(x, size, interpolation=cv2.INTER_AREA))
    small = as_f32(cv2.GaussianBlur(small, (0, 0), sigma / factor))
    return as_f32(cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR))


def blur_background(rgb: U8, mask: F32, amount: float) -> U8:
    """Blur what is not subject; mask-normalised so the subject does not halo."""
    sigma = max(1.0, (0.1 + 0.9 * amount) * 0.04 * min(rgb.shape[:2]))
    back = np.ascontiguousarray(1.0 - mask)
    x = rgb.astype(np.float32)
    # One pass over four channels: background-weighted colour and the weight itself.
    stacked = _wide_blur(np.dstack([x * back[:, :, None], back]), sigma)
    weight = stacked[:, :, 3]
    blurred = as_f32(stacked[:, :, :3] / np.maximum(weight, np.float32(1e-3))[:, :, None])
    # Where the background is almost entirely covered by the subject, use a plain blur.
    trust = np.clip(weight * 5.0, 0.0, 1.0)[:, :, None]
    if float(trust.min()) < 1.0:
        plain = _wide_blur(x, sigma)
        blurred = as_f32(blurred * trust + plain * (1.0 - trust))
    m = mask[:, :, None]
    return to_u8(x * m + blurred * (1.0 - m))


def cover(background: U8, width: int, height: int) -> U8:
    """Scale `background` to cover width x height, then centre-crop."""
    bh, bw = background.shape[:2]
    scale = max(width / bw, height / bh)
    size = (max(width, round(bw * scale)), max(height, round(bh * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    resized = as_u8(cv2.resize(background, size, interpolation=interpolation))
    top = (resized.shape[0] - height) // 2
    left = (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[top : top + height, left : left + width])


def replace_background(rgb: U8, mask: F32, background: U8) -> U8:
    """Composite the subject onto the replacement image."""
    back = cover(background, rgb.shape[1], rgb.shape[0]).astype(np.float32)
    m = mask[:, :, None]
    return to_u8(rgb.astype(np.float32) * m + back * (1.0 - m))


def alpha_from_mask(mask: F32, existing: U8 | None) -> U8:
    """REMOVE: the mask as 8-bit alpha, never more opaque than an alpha the input had."""
    alpha = to_u8(mask * np.float32(255.0))
    return alpha if existing is None else np.minimum(alpha, existing)
