"""Image builders and measurements shared by the engine tests (no files, no network)."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]


def encode(pixels: U8 | Image.Image, fmt: str = "PNG", **kwargs: Any) -> bytes:
    img = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def open_image(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def pixels(data: bytes, mode: str = "RGB") -> U8:
    return np.asarray(open_image(data).convert(mode), dtype=np.uint8)


def luma(rgb: U8) -> F64:
    weights = np.array([0.299, 0.587, 0.114])
    return np.asarray(np.asarray(rgb, dtype=np.float64) @ weights, dtype=np.float64)


def cascade(name: str) -> Any:
    """An OpenCV Haar cascade, asserted loaded (an empty one silently finds nothing)."""
    base = str(getattr(cv2, "data").haarcascades)  # noqa: B009 (cv2.data is not in the stubs)
    clf = cv2.CascadeClassifier(base + name)
    assert not clf.empty()
    return clf


def sharpness(region: U8) -> float:
    """Variance of the Laplacian of the grey region: high-frequency energy."""
    grey = np.ascontiguousarray(luma(region).astype(np.float32))
    return float(np.asarray(cv2.Laplacian(grey, cv2.CV_32F), dtype=np.float64).var())


def scene(width: int, height: int, seed: int = 1) -> U8:
    """A smooth synthetic photo-like scene: gradients, soft discs, a few edges (no faces)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 90 + 80 * xx / width
    g = 70 + 90 * yy / height
    b = 120 + 60 * np.sin(xx / width * 3.0) * np.cos(yy / height * 2.0)
    img = np.dstack([r, g, b])
    rng = np.random.default_rng(seed)
    for _ in range(6):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        radius = rng.uniform(0.05, 0.2) * min(width, height)
        colour = rng.uniform(30, 220, size=3)
        disc = np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius**2)))[:, :, None]
        img = img * (1 - disc) + colour * disc
    img[height // 3 : height // 3 + 4, :, :] = 30.0  # a hard edge
    return np.asarray(np.clip(np.rint(img), 0, 255), dtype=np.uint8)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height, with no pixel data (a decompression bomb probe)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def blockiness(grey: F64) -> float:
    """Mean step on the 8 px grid over the mean step elsewhere (1.0 = no JPEG blocks)."""
    steps = np.abs(np.diff(grey, axis=1)).mean(axis=0)
    on = steps[7::8].mean()
    off = np.delete(steps, np.arange(7, steps.size, 8)).mean()
    return float(on / off)


def noise_sigma(grey: F64) -> float:
    """Donoho's robust noise estimate: median absolute diagonal Haar detail / 0.6745."""
    g = np.asarray(grey, dtype=np.float64)
    h, w = (g.shape[0] // 2) * 2, (g.shape[1] // 2) * 2
    g = g[:h, :w]
    detail = (g[0::2, 0::2] - g[0::2, 1::2] - g[1::2, 0::2] + g[1::2, 1::2]) / 2.0
    return float(np.median(np.abs(detail)) / 0.6745)
