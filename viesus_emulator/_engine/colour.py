"""`mode: ENHANCE`: automatic colour and contrast correction, scaled by `customColorConfig`."""

from __future__ import annotations

import cv2
import numpy as np

from .arrays import F32, U8, as_f32, to_u8
from .faces import Face, ellipse_mask
from .params import ColorConfig

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
MAX_LEVELS_GAIN = 3.0
# Levels targets: where a well-exposed photo's 0.5 / 99.5 % luminance percentiles lie. A photo
# whose percentiles are already beyond them is not stretched further.
BLACK_TARGET, WHITE_TARGET = 0.03, 0.96
WHITE_SHARE = 0.25  # share of the way the white point moves towards its target
GAIN_LIMITS = (0.75, 1.35)
PLAUSIBLE_CAST = 0.5  # log-space size of the strongest cast a light gives a photo
LIFT, DARK_LIFT = 0.02, 0.1
CLAHE_SHARE, VIBRANCE = 0.25, 0.06
# Shares of the estimated cast removed at the automatic setting, per axis (see white_balance).
WARMTH_SHARE, TINT_SHARE = 0.55, 0.8


def _luma(x: F32) -> F32:
    return as_f32(x @ _LUMA)


def _sample(x: F32, limit: int = 250_000) -> F32:
    """A strided subsample: statistics of a 2 MP photo do not need every pixel."""
    step = max(1, int(np.sqrt(x.shape[0] * x.shape[1] / limit)))
    return x[::step, ::step]


def _unit(v: F32) -> F32:
    """An illuminant estimate scaled to mean 1 (only its colour matters)."""
    return as_f32(v / max(float(v.mean()), 1e-6))


def _grey_edge(x: F32) -> F32:
    """Minkowski (p=6) norm of each channel's gradient magnitude: edges average to grey."""
    blurred = as_f32(cv2.GaussianBlur(x, (0, 0), 1.0))
    gx = as_f32(cv2.Sobel(blurred, cv2.CV_32F, 1, 0))
    gy = as_f32(cv2.Sobel(blurred, cv2.CV_32F, 0, 1))
    g = np.hypot(gx, gy).reshape(-1, 3).astype(np.float64)
    return _unit(as_f32((g**6).mean(axis=0) ** (1.0 / 6.0)))


def _near_grey(s: F32) -> F32 | None:
    """Mean of the almost-neutral pixels, re-selected under the current estimate (4 rounds)."""
    estimate = np.ones(3, dtype=np.float32)
    chosen: F32 | None = None
    for _ in range(4):
        c = s / estimate
        m = c.mean(axis=1, keepdims=True)
        chroma = np.abs(c - m).max(axis=1) / np.maximum(m[:, 0], 1e-3)
        keep = chroma < 0.08
        if int(keep.sum()) < 200:
            keep = chroma <= np.percentile(chroma, 5)
        if not keep.any():
            break
        chosen = s[keep]
        # Floored: a channel absent from the scene (a pure red-green graphic) would divide
        # the next round by zero.
        estimate = as_f32(np.maximum(_unit(as_f32(chosen.mean(axis=0))), 1e-3))
    return None if chosen is None or len(chosen) < 50 else estimate


def _white_patch(s: F32) -> F32 | None:
    """Mean colour of the brightest 2 % of unclipped pixels."""
    unclipped = s[s.max(axis=1) < 0.985]
    if len(unclipped) < 500:
        return None
    y = unclipped.mean(axis=1)
    top = unclipped[y >= np.percentile(y, 98)]
    return _unit(as_f32(top.mean(axis=0)))


def estimate_illuminant(x: F32) -> tuple[F32, float]:
    """The scene illuminant's colour (mean 1) and a confidence in 0-1 (estimators agreeing)."""
    s = _sample(x)
    flat = s.reshape(-1, 3)
    y = flat @ _LUMA
    usable = flat[(y > 0.06) & (flat.max(axis=1) < 0.985)]
    estimates = [_grey_edge(s)]
    if len(usable) >= 500:
        for e in (_near_grey(usable), _white_patch(usable)):
            if e is not None:
                estimates.append(e)
    logs = np.log(np.maximum(np.stack(estimates), 1e-4))
    illuminant = _unit(as_f32(np.exp(np.median(logs, axis=0))))
    # Disagreement: the largest channel spread between estimators, in log units. 0.15 (about
    # 15 %) or more and the correction is halved; agreement keeps it whole.
    spread = float((logs.max(axis=0) - logs.min(axis=0)).max()) if len(estimates) > 1 else 0.3
    confidence = float(np.clip(1.0 - (spread - 0.05) / 0.2, 0.5, 1.0))
    return illuminant, confidence


def _skin(x: F32) -> np.ndarray:
    """Pixels whose chromaticity is a plausible skin tone (the usual YCrCb box)."""
    ycc = as_f32(cv2.cvtColor(x, cv2.COLOR_RGB2YCrCb))
    cr, cb, y = ycc[:, :, 1], ycc[:, :, 2], ycc[:, :, 0]
    return np.asarray((cr > 0.545) & (cr < 0.68) & (cb > 0.36) & (cb < 0.5) & (y > 0.2))


def _protect_skin(x: F32, gains: F32) -> F32:
    """Back the gains off while they would push skin-toned areas out of the skin range.

    A real cast moves skin too, so only a correction that makes a sizeable skin-coloured area
    (>= 1 % of the image) mostly stop looking like skin is reduced: that is the green-face case.
    """
    s = _sample(x, 60_000)
    skin = _skin(s)
    if float(skin.mean()) < 0.01:
        return gains
    pixels = s[skin].reshape(1, -1, 3)
    for _ in range(6):
        still = float(_skin(np.clip(pixels * gains, 0.0, 1.0)).mean())
        if still >= 0.6:
            break
        gains = as_f32(1.0 + (gains - 1.0) * 0.7)
    return gains


def white_balance(x: F32, strength: float) -> F32:
    """Remove part of the estimated cast (see the module docstring, step 2)."""
    if strength <= 0:
        return x
    illuminant, confidence = estimate_illuminant(np.clip(x, 0.0, 1.0))
    # The cast in log space, split into the warm-cool axis (log R/B: daylight, shade, tungsten;
    # scenes are often warm on purpose) and the tint axis (log G against R and B: green or
    # magenta, almost never wanted). The tint is removed more fully than the warmth.
    log_cast = np.log(np.maximum(illuminant, 1e-4)).astype(np.float64)
    warm_axis = np.array([1.0, 0.0, -1.0]) / np.sqrt(2.0)
    tint_axis = np.array([-0.5, 1.0, -0.5]) / np.sqrt(1.5)
    # An implausibly strong "cast" (a retina photo, a red wall filling the frame) is the
    # scene's own colour, not the light's: beyond PLAUSIBLE_CAST the correction fades out.
    magnitude = float(np.linalg.norm(log_cast))
    plausible = float(np.clip(1.0 - (magnitude - PLAUSIBLE_CAST) / 0.4, 0.25, 1.0))
    scale = min(1.0, strength * confidence) * plausible
    removed = (
        WARMTH_SHARE * scale * float(log_cast @ warm_axis) * warm_axis
        + TINT_SHARE * scale * float(log_cast @ tint_axis) * tint_axis
    )
    gains = as_f32(np.clip(np.exp(-removed), *GAIN_LIMITS))
    gains = _protect_skin(np.clip(x, 0.0, 1.0), gains)
    # Normalise so the luminance of a grey stays put: balance changes colour, not exposure.
    gains = as_f32(gains / float(gains @ _LUMA))
    return as_f32(x * gains)


def levels(x: F32) -> F32:
    """Move the luminance percentiles out to the targets where the range is compressed."""
    y = _luma(_sample(x))
    lo, hi = (float(v) for v in np.percentile(y, [0.5, 99.5]))
    if hi - lo < 1e-3:
        return x
    lo_t = min(lo, BLACK_TARGET)
    hi_t = hi + WHITE_SHARE * max(0.0, WHITE_TARGET - hi)
    gain = (hi_t - lo_t) / (hi - lo)
    if gain > MAX_LEVELS_GAIN:
        # Nearly flat: stretch what the cap allows around the current middle.
        gain = MAX_LEVELS_GAIN
        lo_t = max(0.0, min(1.0 - gain * (hi - lo), (lo + hi) / 2 - gain * (hi - lo) / 2))
    if abs(gain - 1.0) < 1e-3 and abs(lo_t - lo) < 1e-3:
        return x
    return as_f32((x - np.float32(lo)) * np.float32(gain) + np.float32(lo_t))


def tone_curves(x: F32, shadow: float, highlight: float) -> F32:
    """Lift shadows of dark images, roll off highlights of bright ones.

    `shadow` and `highlight` are 2 x shadowfac / highlightfac: 1 is the automatic amount.
    The curves act on luminance and are applied as an RGB ratio, which keeps hue.
    """
    y = np.clip(_luma(x), 0.0, 1.0)
    mean = float(_sample(y).mean())
    lift = shadow * (LIFT + DARK_LIFT * max(0.0, 0.42 - mean) / 0.42)
    roll = highlight * (LIFT + DARK_LIFT * max(0.0, mean - 0.58) / 0.42)
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
    """CLAHE on a smoothed L (its change added back) and a saturation-weighted chroma boost."""
    lab = _lab(x)
    if contrast > 0:
        smooth = as_f32(cv2.GaussianBlur(lab[:, :, 0], (0, 0), 1.5))
        l8 = np.clip(np.rint(smooth * 2.55), 0, 255).astype(np.uint8)
        clahe = cv2.createCLAHE(clipLimit=1.5, tileGridSize=(8, 8))
        delta = as_f32(clahe.apply(l8)).astype(np.float32) - l8.astype(np.float32)
        lab[:, :, 0] += delta / np.float32(2.55) * np.float32(CLAHE_SHARE * contrast)
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
    x = levels(x)
    if colour > 0:
        x = white_balance(x, colour)
    x = tone_curves(x, shadow, highlight)
    x = local_contrast_and_vibrance(x, 0.5 * (shadow + highlight), VIBRANCE * colour)
    if faces:
        x = face_tones(x, faces, cfg)
    return to_u8(x * np.float32(255.0))
