"""Webhook deliveries: the signature check (``verify_signature``, ``unwrap``) and the event model.

A delivery is signed with HMAC-SHA256 of its raw body; secrets, signatures and bodies never
appear in a repr, a log line or an exception message (ARCHITECTURE-notes-r2.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from viesus._errors import WebhookPayloadError, WebhookSignatureError
from viesus_client.enums import EnhancedImageStatus, UploadStatus
from viesus_client.fragments import EnhancedImageFields, UploadFields

__all__ = [
    "SIGNATURE_HEADER",
    "WebhookEvent",
    "compute_signature",
    "parse_event",
    "secret_list",
    "unwrap",
    "verify_signature",
]

SIGNATURE_HEADER: Final = "x-viesus-cloud-signature"


_HEX_SHA256: Final = re.compile(r"[0-9a-f]{64}")
# Keys only an Upload record has; with ``id`` + ``status`` they tell an upload from a job.
_UPLOAD_ONLY_KEYS: Final = frozenset({"subStatus", "filesize", "mimetype", "originalFilename"})
_UPLOAD_STATUSES: Final = frozenset(status.value for status in UploadStatus)
_JOB_STATUSES: Final = frozenset(status.value for status in EnhancedImageStatus)

# --- signatures ------------------------------------------------------------------------------


def compute_signature(body: bytes, secret: str) -> str:
    """The lowercase hex HMAC-SHA256 of ``body`` keyed with ``secret`` (what VIESUS sends)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, signature: str | None, secret: str) -> bool:
    """Whether ``signature`` signs the raw ``body`` with ``secret``; constant-time.

    Upper-case hex is accepted; anything that is not 64 hex digits is simply ``False``
    (its length and shape say nothing about the secret, so checking them first leaks nothing).
    """
    if not signature or not secret:
        return False
    candidate = signature.strip().lower()
    if not _HEX_SHA256.fullmatch(candidate):
        return False
    expected = compute_signature(body, secret)
    return hmac.compare_digest(expected.encode("ascii"), candidate.encode("ascii"))


# --- events ----------------------------------------------------------------------------------

DataKind = Literal["enhanced_image", "upload", "unknown"]
ModelT = TypeVar("ModelT", bound=BaseModel)


class WebhookEvent(BaseModel):
    """One delivery: ``{"id", "event", "data", "created"}`` [docs].

    ``data`` stays a plain dict, because the service may send fields or status values this
    client does not know; the ``as_*`` helpers give the typed view when there is one.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    event: str
    data: dict[str, Any]
    created: datetime

    @property
    def data_kind(self) -> DataKind:
        """What ``data`` is, by its shape (the job event's name is undocumented)."""
        if not isinstance(self.data.get("id"), str | int) or "status" not in self.data:
            return "unknown"
        if self.raw_status in _UPLOAD_STATUSES or _UPLOAD_ONLY_KEYS & self.data.keys():
            return "upload"
        return "enhanced_image"

    @property
    def raw_status(self) -> str | None:
        """``data.status`` as sent, known value or not (``None`` when absent)."""
        status = self.data.get("status")
        return None if status is None else str(status)

    @property
    def job_id(self) -> str | None:
        """The enhancement job's id when ``data`` is a job record, else ``None``."""
        return str(self.data["id"]) if self.data_kind == "enhanced_image" else None

    @property
    def job_status(self) -> EnhancedImageStatus | None:
        """The job's status when it is one this client knows; ``None`` for a new value."""
        if self.data_kind != "enhanced_image" or self.raw_status not in _JOB_STATUSES:
            return None
        return EnhancedImageStatus(self.raw_status)

    def as_enhanced_image(self) -> EnhancedImageFields | None:
        """``data`` as the generated job record, or ``None`` if it is not one or not parseable.

        An unknown status value gives ``None`` here (never an exception): use ``raw_status``.
        """
        if self.job_status is None:
            return None
        return _as_model(EnhancedImageFields, self.data)

    def as_upload(self) -> UploadFields | None:
        """``data`` as the generated upload record (``upload.sub_status_update``), or ``None``."""
        if self.data_kind != "upload":
            return None
        return _as_model(UploadFields, self.data)

    def __repr__(self) -> str:
        # ``data`` may hold a signed download URL: keep it out of reprs and logs.
        return (
            f"WebhookEvent(id={self.id!r}, event={self.event!r}, kind={self.data_kind!r}, "
            f"status={self.raw_status!r})"
        )

    __str__ = __repr__


def _as_model(model: type[ModelT], data: Mapping[str, Any]) -> ModelT | None:
    """Validate ``data``, treating absent optional fields as null (a payload may omit them)."""
    absent = {
        field.alias or name: None
        for name, field in model.model_fields.items()
        if name not in ("id", "status")
    }
    try:
        return model.model_validate({**absent, **data})
    except ValidationError:
        return None


def unwrap(body: bytes, headers: Mapping[str, str], secrets: str | Sequence[str]) -> WebhookEvent:
    """Verify a delivery against any of ``secrets`` (rotation) and parse it.

    ``headers`` may be any mapping (case is ignored). Raises ``WebhookSignatureError`` for a
    missing or wrong signature and ``WebhookPayloadError`` for a signed body that is not an
    event; both are ``WebhookVerificationError``, and their messages never contain the secret,
    the signature or the body.
    """
    candidates = secret_list(secrets)
    signature = _header(headers, SIGNATURE_HEADER)
    if signature is None:
        raise WebhookSignatureError(f"missing {SIGNATURE_HEADER} header")
    if not any(verify_signature(body, signature, secret) for secret in candidates):
        raise WebhookSignatureError(
            f"{SIGNATURE_HEADER} does not match the body with any of the "
            f"{len(candidates)} configured secret(s)"
        )
    return parse_event(body)


def parse_event(body: bytes) -> WebhookEvent:
    """Parse an already verified body; ``WebhookPayloadError`` names the problem, not the data."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        problem = getattr(exc, "msg", "not UTF-8")
        raise WebhookPayloadError(f"webhook body is not JSON ({problem})") from None
    except RecursionError:
        # A signed body can still be hostile (a leaked secret, a buggy sender): "[[[[...]]]]"
        # deeper than the interpreter's stack must end as a 400, not a traceback.
        raise WebhookPayloadError("webhook body is nested too deeply to be an event") from None
    try:
        return WebhookEvent.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['type']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise WebhookPayloadError(f"webhook body is not an event ({problems})") from None


def secret_list(secrets: str | Sequence[str], *, allow_none: bool = False) -> tuple[str, ...]:
    candidates = (secrets,) if isinstance(secrets, str) else tuple(secrets)
    candidates = tuple(secret for secret in candidates if secret)
    if not candidates and not allow_none:
        raise ValueError("no webhook secret given: pass the secret returned by createWebhook")
    return candidates


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    return next((v for k, v in headers.items() if k.lower() == name), None)
