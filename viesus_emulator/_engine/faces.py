"""Face and eye detection with OpenCV's bundled Haar cascades, and soft face masks."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np

from .arrays import F32, U8, as_u8

FACE_CASCADE: Final[str] = "haarcascade_frontalface_alt2.xml"
EYE_CASCADE: Final[str] = "haarcascade_eye.xml"
DETECT_MAX_SIDE: Final[int] = 800
MAX_FACES: Final[int] = 10


class EngineSetupError(RuntimeError):
    """The installation is broken (not the input): e.g. OpenCV without its Haar cascades."""


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Face:
    box: Box
    eyes: tuple[Box, ...]


_local = threading.local()


def classifier(name: str) -> object:
    """The per-thread classifier `name`, loaded from `cv2.data.haarcascades` and asserted."""
    cache: dict[str, object] = _local.__dict__.setdefault("classifiers", {})
    if name not in cache:
        base = getattr(getattr(cv2, "data", None), "haarcascades", "")
        clf = cv2.CascadeClassifier(str(base) + name)
        if clf.empty():
            raise EngineSetupError(
                f"OpenCV could not load the Haar cascade {name!r} from {base!r}: "
                "opencv-python-headless 5.x ships no cascades; install 'opencv-python-headless"
                ">=4.10,<5' (the emulator extra pins it)"
            )
        cache[name] = clf
    return cache[name]


def check_installation() -> None:
    """Load both cascades now (for a server start-up check); raises EngineSetupError."""
    classifier(FACE_CASCADE)
    classifier(EYE_CASCADE)


def _boxes(found: object, scale: float, dx: int = 0, dy: int = 0) -> list[Box]:
    rows = np.asarray(found, dtype=np.float64).reshape(-1, 4)
    return [
        Box(
            dx + round(float(x) * scale),
            dy + round(float(y) * scale),
            round(float(w) * scale),
            round(float(h) * scale),
        )
        for x, y, w, h in rows
    ]


def detect(rgb: U8) -> list[Face]:
    """Frontal faces (largest first, at most MAX_FACES) with up to two eyes each."""
    height, width = rgb.shape[:2]
    grey = as_u8(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    scale = min(1.0, DETECT_MAX_SIDE / max(height, width))
    small = grey
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = as_u8(cv2.resize(grey, size, interpolation=cv2.INTER_AREA))
    small = as_u8(cv2.equalizeHist(small))
    min_side = max(20, round(0.05 * min(small.shape[:2])))
    found = classifier(FACE_CASCADE).detectMultiScale(  # type: ignore[attr-defined]
        small, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side)
    )
    boxes = sorted(_boxes(found, 1.0 / scale), key=lambda b: b.w * b.h, reverse=True)
    return [Face(box, _eyes(grey, box)) for box in boxes[:MAX_FACES]]


def _eyes(grey: U8, face: Box) -> tuple[Box, ...]:
    """Eyes in the upper 60 % of a face box: at most one per half, the largest candidate."""
    top = max(0, face.y)
    left = max(0, face.x)
    roi = grey[top : face.y + round(face.h * 0.6), left : face.x + face.w]
    if roi.size == 0:
        return ()
    scale = min(1.0, 240 / max(roi.shape[:2]))
    if scale < 1.0:
        size = (max(1, round(roi.shape[1] * scale)), max(1, round(roi.shape[0] * scale)))
        roi = as_u8(cv2.resize(roi, size, interpolation=cv2.INTER_AREA))
    roi = as_u8(cv2.equalizeHist(roi))
    min_side = max(8, round(roi.shape[1] * 0.12))
    found = classifier(EYE_CASCADE).detectMultiScale(  # type: ignore[attr-defined]
        roi, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side)
    )
    candidates = sorted(_boxes(found, 1.0 / scale, left, top), key=lambda b: -b.w * b.h)
    middle = face.x + face.w / 2
    chosen: dict[bool, Box] = {}
    for eye in candidates:
        side = eye.x + eye.w / 2 < middle
        if side not in chosen and eye.w < face.w * 0.5:
            chosen[side] = eye
    return tuple(sorted(chosen.values(), key=lambda b: b.x))


def ellipse_mask(shape: tuple[int, int], boxes: list[Box], feather: float = 0.15) -> F32:
    """A soft mask (0-1) of one ellipse per box, feathered by `feather` x the box width."""
    height, width = shape
    mask = np.zeros((height, width), dtype=np.float32)
    for box in boxes:
        centre = (round(box.x + box.w / 2), round(box.y + box.h * 0.55))
        axes = (max(1, round(box.w * 0.45)), max(1, round(box.h * 0.6)))
        cv2.ellipse(mask, centre, axes, 0, 0, 360, 1.0, -1)
        sigma = max(1.0, feather * box.w)
        pad = round(3 * sigma)
        x0, y0 = max(0, box.x - pad), max(0, box.y - pad)
        x1 = min(width, box.x + box.w + pad)
        y1 = min(height, box.y + round(box.h * 1.2) + pad)
        if x1 > x0 and y1 > y0:
            roi = np.ascontiguousarray(mask[y0:y1, x0:x1])
            mask[y0:y1, x0:x1] = cv2.GaussianBlur(roi, (0, 0), sigma)
    return np.clip(mask, 0.0, 1.0)
