"""The emulator's image engine: it really enhances images, with Pillow, NumPy and OpenCV.

Public interface (the emulator server codes against it):
- `probe(data)` reads only the header: format, size (as displayed, EXIF orientation applied),
  and the guards (UNSUPPORTED_FORMAT, CORRUPT_INPUT, IMAGE_TOO_LARGE beyond MAX_INPUT_PIXELS);
- `output_size(info, params)` is the size `enhance` will produce, and raises LIMITS_EXCEEDED
  for requests breaking the documented upscaling limits (check before queuing);
- `enhance(data, params, background=, seed=)` does the work (see `pipeline`);
- `processing_seconds(info, params)` models the service's documented 2-180 s latency.

Assumptions (the service does not document them; each is the emulator's choice):
- no parameters at all -> the default `mode: ENHANCE` correction is applied;
- 16-bit inputs are reduced to 8 bit; greyscale stays greyscale; first frame only;
- background REMOVE on a JPEG gives a PNG (JPEG has no alpha);
- upscaling beyond 11,996 px is rejected, not clamped; a custom width beats the factor;
- the output keeps the input format, ICC profile (when its colour space still fits), EXIF
  (orientation applied to the pixels and the tag reset to 1) and DPI (`upscalingCustomDPI`
  overrides it).
"""

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
