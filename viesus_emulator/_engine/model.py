"""Value types shared by the engine modules and the emulator server.

They live in their own module so that every engine step can raise `EngineError` without
importing the pipeline (no import cycles), and the server can import the types cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The error codes `EngineError.code` takes. The emulator reports them as the job's `errorCode`
#: (the real service's values are not documented, so these are the emulator's own).
ERROR_CODES = frozenset(
    {
        "UNSUPPORTED_FORMAT",
        "CORRUPT_INPUT",
        "IMAGE_TOO_LARGE",
        "LIMITS_EXCEEDED",
        "BACKGROUND_UNREADABLE",
    }
)


@dataclass(frozen=True)
class ImageInfo:
    """What `probe` learns from an image header, without decoding the pixels."""

    format: str
    mimetype: str
    extension: str
    width: int
    height: int


@dataclass(frozen=True)
class EngineResult:
    """The encoded output of `enhance` and what the server needs to describe it."""

    data: bytes
    format: str
    mimetype: str
    extension: str
    width: int
    height: int


class EngineError(Exception):
    """Every failure of the engine: a stable machine-readable `code` and a human message.

    The server turns it into a job in status ERROR; nothing else may escape `enhance`.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
