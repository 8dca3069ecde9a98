"""What the service says about an upload it could not take, as typed errors with its reason.

Before, every refused upload became ``ServerError("could not read the upload")`` and the
service's reason was dropped, so a user could not tell a wrong format from a dead link. Three
places can refuse an upload, each mapped here:

- an upload answered ``UPLOAD_FAILED``: the reason is read from ``metadata.error {code,
  message}`` [assumption: undocumented; the emulator's shape]. Without it the error says so;
- the signed PUT refused by the storage (HTTP 4xx; 413 means too large), with the storage's
  JSON ``{"error": {"code", "message"}}`` when there is one [assumption: the emulator's shape];
- a GraphQL error on an upload mutation whose ``extensions.code`` is one of the codes below.

The service's message is shown shortened, with any URL in it redacted (a signed URL's token
never reaches an exception).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from viesus._errors import (
    GraphQLRequestError,
    UnsupportedUpload,
    UploadFailed,
    UploadFetchFailed,
    UploadTooLarge,
    ViesusError,
)
from viesus._redact import redact_url

__all__ = ["error_of_failed_upload", "error_of_refused_put", "typed_upload_error"]

# Reason codes -> (error class, the fix to suggest). [assumption: the emulator's codes; the
# service's are undocumented. An unknown code still gives an UploadFailed with that code.]
_BY_CODE: Final[dict[str, tuple[type[UploadFailed], str]]] = {
    "UNSUPPORTED_FORMAT": (UnsupportedUpload, "convert it to JPEG or PNG"),
    "CORRUPT_INPUT": (UnsupportedUpload, "the file looks damaged; export it again"),
    "EMPTY_FILE": (UnsupportedUpload, "the file is empty"),
    "FILE_TOO_LARGE": (UploadTooLarge, "make the file smaller (compress or resize it)"),
    "IMAGE_TOO_LARGE": (UploadTooLarge, "resize the image"),
    "FETCH_FAILED": (UploadFetchFailed, "check that the URL is public and reachable"),
}
_MAX_REASON: Final = 200
_URL: Final = re.compile(r"https?://[^\s\"'<>]+")


def error_of_failed_upload(source: str, upload: Mapping[str, Any]) -> UploadFailed:
    """The typed error for an upload record in ``UPLOAD_FAILED``."""
    metadata = upload.get("metadata")
    error = metadata.get("error") if isinstance(metadata, Mapping) else None
    if not isinstance(error, Mapping):
        return UploadFailed(source, "UPLOAD_FAILED", None, "the service gave no reason")
    return _typed(source, _text(error.get("code")), _text(error.get("message")))


def error_of_refused_put(source: str, status_code: int, body: bytes) -> UploadFailed:
    """The typed error for a signed PUT the storage refused with a 4xx."""
    code = message = None
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        payload = None
    if isinstance(payload, Mapping) and isinstance(payload.get("error"), Mapping):
        code, message = _text(payload["error"].get("code")), _text(payload["error"].get("message"))
    if status_code == 413:
        return _typed(source, "FILE_TOO_LARGE", message or f"HTTP 413 {code or ''}".strip())
    reason = f"HTTP {status_code}" + (f", {message}" if message else "")
    return UploadFailed(source, code or f"HTTP_{status_code}", reason)


def typed_upload_error(source: str, error: ViesusError) -> ViesusError:
    """A GraphQL error with a known upload reason code as its typed error; others unchanged."""
    if isinstance(error, GraphQLRequestError) and error.code in _BY_CODE:
        return _typed(source, error.code, str(error))
    return error


def _typed(source: str, code: str | None, message: str | None) -> UploadFailed:
    kind, fix = _BY_CODE.get(code or "", (UploadFailed, ""))
    return kind(source, code, _shown(message), fix)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _shown(message: str | None) -> str | None:
    if message is None:
        return None
    safe = _URL.sub(lambda match: redact_url(match.group(0)), message)
    return safe if len(safe) <= _MAX_REASON else safe[: _MAX_REASON - 1] + "…"
