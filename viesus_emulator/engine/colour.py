"""`mode: ENHANCE`: automatic colour and contrast correction, scaled by `customColorConfig`.

The steps, in the order a retoucher would take them:
1. grey-world white balance (channel gains from mid-tone means, limited and partial, so a
   sunset is warmed less than a real cast is removed);
2. auto-levels on luminance (0.5/99.5 percentiles, one map for all channels: no new cast),
   with the stretch capped so noise in a nearly flat image is not blown up;
3. shadow lift (stronger for dark images) and highlight roll-off (stronger for bright ones),
   luminance curves applied as an RGB ratio, which keeps hue;
4. mild CLAHE on L (local contrast, half strength);
5. vibrance: chroma boosted most where saturation is low (skin and saturated areas suffer least).
Then, with faces: `skinToneAdjFac` lowers saturation inside faces, `addflashfac` brightens faces
darker than a target ("fill flash").

`customColorConfig` factors are 0-1 with 0.5 = the automatic strength; each correction is
multiplied by 2 x factor: highlightfac -> highlight roll-off, shadowfac -> shadow lift (both also
scale the local contrast), colorfac -> white balance and vibrance. Auto-levels are not scaled:
they only undo a compressed range.
"""

from __future__ import annotations

import cv2
import numpy as np

from .arrays import F32, U8, as_f32, to_u8
from .faces import Face, ellipse_mask
from .params import ColorConfig

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
MAX_LEVELS_GAIN = 3.0


def _luma(x: F32) -> F32:
    return as_f32(x @ _LUMA)


def _sample(x: F32, limit: int = 250_000) -> F32:
    """A strided subsample: statistics of a 2 MP photo do not need every pixel."""
    step = max(1, int(np.sqrt(x.shape[0] * x.shape[1] / limit)))
    return x[::step, ::step]


def white_balance(x: F32, strength: float) -> F32:
    """Grey-world gains from mid-tones, limited to [0.7, 1.45] and applied partially."""
    s = _sample(x).reshape(-1, 3)
    y = s @ _LUMA
    keep = (y > 0.06) & (y < 0.94) & (s.max(axis=1) < 0.98)
    if int(keep.sum()) < 100:
        return x
    means = s[keep].mean(axis=0)
    gains = np.clip(means.mean() / np.maximum(means, 1e-4), 0.7, 1.45)
    gains = 1.0 + (gains - 1.0) * min(1.0, 0.65 * strength)
    # Normalise so the luminance of a grey stays put: balance changes colour, not exposure.
    gains = gains / float(gains @ _LUMA)
    return as_f32(x * gains.astype(np.float32))


def levels(x: F32) -> F32:
    """Stretch the luminance percentiles to 0 and 1 (black/white point), with a capped gain."""
    y = _luma(_sample(x))
    lo, hi = (float(v) for v in np.percentile(y, [0.5, 99.5]))
    if hi - lo < 1e-3:
        return x
    lo_t, hi_t = 0.0, 1.0
    gain = (hi_t - lo_t) / (hi - lo)
    if gain > MAX_LEVELS_GAIN:
        # Nearly flat: stretch what the cap allows around the current middle.
        gain = MAX_LEVELS_GAIN
        lo_t = max(0.0, min(1.0 - gain * (hi - lo), (lo + hi) / 2 - gain * (hi - lo) / 2))
    return as_f32((x - np.float32(lo)) * np.float32(gain) + np.float32(lo_t))


def tone_curves(x: F32, shadow: float, highlight: float) -> F32:
    """Lift shadows (more in dark images), roll off highlights (more in bright ones).

    `shadow` and `highlight` are 2 x shadowfac / highlightfac: 1 is the automatic amount.
    The curves act on luminance and are applied as an RGB ratio, which keeps hue.
    """
    y = np.clip(_luma(x), 0.0, 1.0)
    mean = float(_sample(y).mean())
    lift = shadow * (0.05 + 0.3 * max(0.0, 0.5 - mean) / 0.5)
    roll = highlight * (0.04 + 0.3 * max(0.0, mean - 0.5) / 0.5)
    if lift <= 1e-4 and roll <= 1e-4:
        return x
    curved = y + lift * 4.0 * y * (1.0 - y) ** 2 - roll * 4.0 * y**2 * (1.0 - y)
    ratio = curved / np.maximum(y, 1e-3)
    return as_f32(x * ratio[:, :, None])


def _lab(x: F32) -> F32:
    return as_f32(cv2.cvtColor(np.clip(x, 0.0, 1.0), cv2.COLOR_RGB2Lab))


def _rgb(lab: F32) -> F32:
    return as_f32(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB))


def local_contrast_and_vibrance(x: F32, contrast: float, vibrance: float) -> F32:
    """Half-strength CLAHE on L (8x8 tiles) and a saturation-weighted chroma boost."""
    lab = _lab(x)
    if contrast > 0:
        l8 = np.clip(np.rint(lab[:, :, 0] * 2.55), 0, 255).astype(np.uint8)
        clahe = cv2.createCLAHE(clipLimit=1.6, tileGridSize=(8, 8))
        delta = as_f32(clahe.apply(l8)).astype(np.float32) - l8.astype(np.float32)
        lab[:, :, 0] += delta / np.float32(2.55) * np.float32(0.5 * contrast)
    if vibrance > 0:
        chroma = np.hypot(lab[:, :, 1], lab[:, :, 2])
        boost = 1.0 + np.float32(vibrance) * (1.0 - np.minimum(chroma / 60.0, 1.0))
        lab[:, :, 1] *= boost
        lab[:, :, 2] *= boost
    return _rgb(lab)


def face_tones(x: F32, faces: list[Face], cfg: ColorConfig) -> F32:
    """Skin-tone desaturation and fill flash inside the (feathered) face ellipses."""
    if not faces or (cfg.skin_tone_adj <= 0 and cfg.addflashfac <= 0):
        return x
    mask = ellipse_mask(x.shape[:2], [f.box for f in faces])
    inside = mask > 0.5
    if not inside.any():
        return x
    lab = _lab(x)
    if cfg.skin_tone_adj > 0:
        keep = 1.0 - np.float32(0.5 * cfg.skin_tone_adj) * mask
        lab[:, :, 1] *= keep
        lab[:, :, 2] *= keep
    if cfg.addflashfac > 0:
        face_l = float(lab[:, :, 0][inside].mean())
        target = 58.0
        if face_l < target:
            lift = (target - face_l) * 2.0 * cfg.addflashfac * 0.6
            # More lift in the face's shadows than in its highlights.
            weight = np.clip(1.0 - lab[:, :, 0] / 100.0, 0.0, 1.0) * 1.5
            lab[:, :, 0] += np.float32(lift) * mask * weight
    return _rgb(lab)


def auto_correct(rgb: U8, cfg: ColorConfig, faces: list[Face] | None = None) -> U8:
    """The whole `mode: ENHANCE` correction (see the module docstring)."""
    shadow = 2.0 * cfg.shadowfac
    highlight = 2.0 * cfg.highlightfac
    colour = 2.0 * cfg.colorfac
    x = rgb.astype(np.float32) / np.float32(255.0)
    if colour > 0:
        x = white_balance(x, colour)
    x = levels(x)
    x = tone_curves(x, shadow, highlight)
    x = local_contrast_and_vibrance(x, 0.5 * (shadow + highlight), 0.25 * colour)
    if faces:
        x = face_tones(x, faces, cfg)
    return to_u8(x * np.float32(255.0))
