"""Real photographs bundled inside scikit-image's wheel, and a repeatable way to spoil them.

The demo and the engine's quality tests share these: a photo is degraded the way a cheap camera
or a careless export would (colour cast, low contrast, noise, downscale, JPEG blocking), so the
enhancement has something visible to repair and the repair can be measured against the original.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]

# Colour photographs shipped in the scikit-image wheel (other skimage.data names are downloaded
# on first use; these never are).
PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "hubble_deep_field.jpg",
)


@dataclass(frozen=True)
class Degradation:
    """How one photo is spoiled: every field is one defect a photo lab sees every day."""

    cast: tuple[float, float, float]  # per-channel gains (a colour cast)
    contrast: float  # 1 = unchanged; 0.6 squeezes the range around mid-grey
    noise_sigma: float  # Gaussian sensor noise, 0-255 units
    downscale: int  # integer factor (area averaging)
    jpeg_quality: int  # blocking and ringing


# Alternating warm and cool casts: a white balance must undo both, not just one direction.
CASTS = ((1.0, 0.9, 0.7), (0.78, 0.92, 1.0), (1.0, 0.82, 0.95), (0.85, 1.0, 0.8))


def degradation_for(index: int) -> Degradation:
    return Degradation(
        cast=CASTS[index % len(CASTS)],
        contrast=0.6,
        noise_sigma=6.0,
        downscale=2,
        jpeg_quality=40,
    )


def photo_dir() -> Path:
    """Where scikit-image keeps its bundled photos (raises SystemExit with the fix if missing)."""
    try:
        import skimage
    except ImportError:
        raise SystemExit(
            "the sample photos come with scikit-image: pip install 'viesus-toolkit[demo]'"
        ) from None
    return Path(skimage.__file__).parent / "data"


def load(name: str) -> U8:
    from PIL import Image

    with Image.open(photo_dir() / name) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def shrink(rgb: U8, factor: int) -> U8:
    """Area-average downscale by an integer factor (the original at the degraded size)."""
    from PIL import Image

    h, w = rgb.shape[:2]
    size = (w // factor, h // factor)
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX), dtype=np.uint8)


def degrade(rgb: U8, how: Degradation, seed: int = 0) -> bytes:
    """The photo spoiled as `how` says, encoded as a JPEG (the blocking is part of it)."""
    from PIL import Image

    x = shrink(rgb, how.downscale).astype(np.float64)
    x = x * np.asarray(how.cast)
    x = 127.5 + (x - 127.5) * how.contrast
    x = x + np.random.default_rng(seed).normal(0.0, how.noise_sigma, x.shape)
    spoiled = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(spoiled).save(buffer, format="JPEG", quality=how.jpeg_quality)
    return buffer.getvalue()
