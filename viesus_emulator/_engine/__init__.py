"""The emulator's image engine: it really enhances images, with Pillow, NumPy and OpenCV."""

from .faces import EngineSetupError, check_installation
from .model import EngineError, EngineResult, ImageInfo
from .pipeline import enhance
from .probe import MAX_INPUT_PIXELS, probe
from .timing import processing_seconds
from .upscale import output_size

__all__ = [
    "MAX_INPUT_PIXELS",
    "EngineError",
    "EngineResult",
    "EngineSetupError",
    "ImageInfo",
    "check_installation",
    "enhance",
    "output_size",
    "probe",
    "processing_seconds",
]
