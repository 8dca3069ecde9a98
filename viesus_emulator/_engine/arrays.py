"""Array type aliases and the typed boundary to OpenCV (whose results are untyped `Any`)."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

U8: TypeAlias = npt.NDArray[np.uint8]
F32: TypeAlias = npt.NDArray[np.float32]


def as_u8(value: Any) -> U8:
    """An OpenCV result as a typed uint8 array (no copy when it already is one)."""
    return np.asarray(value, dtype=np.uint8)


def as_f32(value: Any) -> F32:
    """An OpenCV/NumPy result as a typed float32 array (no copy when it already is one)."""
    return np.asarray(value, dtype=np.float32)


def to_u8(value: F32) -> U8:
    """Round and clip a float image in 0-255 to uint8."""
    return np.clip(np.rint(value), 0, 255).astype(np.uint8)
