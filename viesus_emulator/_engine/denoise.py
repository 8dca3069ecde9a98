"""Noise reduction (`noiseReductionProfiling*`) and JPEG artifact removal (`AUTO_AI`)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from .arrays import F32, U8, as_f32, as_u8

_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)


def estimate_noise(grey: U8 | F32) -> float:
    """Standard deviation of white noise (0-255 units) estimated from a single grey image."""
    g = np.asarray(grey, dtype=np.float32)
    if g.shape[0] < 8 or g.shape[1] < 8:
        return 0.0
    response = np.abs(as_f32(cv2.filter2D(g, cv2.CV_32F, _IMMERKAER)))[1:-1, 1:-1]
    smooth = as_f32(cv2.GaussianBlur(g, (0, 0), 1.0))
    gx = as_f32(cv2.Sobel(smooth, cv2.CV_32F, 1, 0))
    gy = as_f32(cv2.Sobel(smooth, cv2.CV_32F, 0, 1))
    gradient = np.hypot(gx, gy)[1:-1, 1:-1]
    flat = gradient <= np.percentile(gradient, 75)
    values = response[flat] if int(flat.sum()) > 64 else response.ravel()
    return float(math.sqrt(math.pi / 2.0) / 6.0 * float(values.mean()))


def reduce_noise(rgb: U8, strength: float | None, mono_strength: float | None) -> U8:
    """NLM on luminance, blur on chroma, both scaled by the estimated noise and the strengths."""
    chroma_s = 0.5 if strength is None else strength
    luma_s = mono_strength if mono_strength is not None else chroma_s
    ycc = as_u8(cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb))
    y = np.ascontiguousarray(ycc[:, :, 0])
    sigma = estimate_noise(y)
    if sigma < 0.8:
        return rgb  # nothing measurable to remove: leave a clean image untouched
    if luma_s > 0:
        h = float(min(40.0, max(1.0, sigma * (0.45 + 1.1 * luma_s))))
        filtered = as_u8(
            cv2.fastNlMeansDenoising(y, None, h=h, templateWindowSize=7, searchWindowSize=15)
        )
        ycc[:, :, 0] = filtered
    if chroma_s > 0:
        blur_sigma = 0.8 + 2.5 * chroma_s * min(1.0, sigma / 8.0)
        for channel in (1, 2):
            plane = np.ascontiguousarray(ycc[:, :, channel])
            ycc[:, :, channel] = as_u8(cv2.GaussianBlur(plane, (0, 0), blur_sigma))
    return as_u8(cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB))


def blockiness(grey: U8) -> float:
    """How much stronger steps are on the 8 px JPEG grid than elsewhere (0 = no blocks)."""
    g = grey.astype(np.float32)
    if g.shape[0] < 32 or g.shape[1] < 32:
        return 0.0
    scores = []
    for diffs in (np.abs(np.diff(g, axis=1)).mean(axis=0), np.abs(np.diff(g, axis=0)).mean(axis=1)):
        on_grid = diffs[7::8].mean()
        off_grid = (diffs.sum() - diffs[7::8].sum()) / max(1, diffs.size - diffs[7::8].size)
        scores.append(max(0.0, float(on_grid / max(off_grid, 1e-3)) - 1.0))
    return float(np.mean(scores))


def quant_level(quant_mean: float | None) -> float:
    """0-1 from the mean luminance quantiser (about 9 at quality 92, 29 at 75, 58 at 50)."""
    if quant_mean is None:
        return 0.0
    return min(1.0, max(0.0, (quant_mean - 6.0) / 45.0))


def remove_artifacts(rgb: U8, quant_mean: float | None) -> U8:
    """Small bilateral filter, as strong as the detected blockiness / quantisation warrants."""
    grey = as_u8(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    level = max(quant_level(quant_mean), min(1.0, blockiness(grey) / 0.6))
    if level < 0.05:
        return rgb
    sigma_colour = 6.0 + 30.0 * level
    return as_u8(cv2.bilateralFilter(rgb, 5, sigma_colour, 2.0 + 1.5 * level))
