"""Records as GraphQL sees them: dicts keyed by the SDL's field names.

The same dicts are the ``data`` of webhook events (camelCase GraphQL names), turned into JSON
by ``to_json``, so a webhook receiver and a GraphQL client see the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from viesus_emulator._scalars import decimal_to_json, format_datetime
from viesus_emulator._signing import UrlSigner
from viesus_emulator._store import JobRecord, UploadRecord, WebhookRecord


def upload_view(upload: UploadRecord, signer: UrlSigner, ttl: float) -> dict[str, Any]:
    url = None
    if upload.path is not None and upload.filename is not None:
        url = signer.sign("GET", ["files", "uploads", upload.id, upload.filename], ttl)
    metadata = {"error": dict(upload.error)} if upload.error else None
    if upload.pdf is not None:  # a PDF: analysis results or its error (pdf_analysis)
        metadata = upload.pdf.metadata
    return {
        "id": upload.id,
        "status": upload.status,
        "subStatus": upload.pdf.sub_status if upload.pdf is not None else None,
        "filesize": upload.filesize,
        "mimetype": upload.mimetype,
        "extension": upload.extension,
        "originalFilename": upload.original_filename,
        "filename": upload.filename,
        "width": upload.width,
        "height": upload.height,
        "url": url,
        "startedAt": upload.started_at,
        "finishedAt": upload.finished_at,
        "duration": upload.duration_ms,
        "metadata": metadata,
    }


def job_view(job: JobRecord, signer: UrlSigner, ttl: float) -> dict[str, Any]:
    full_url = None
    if job.result_path is not None and job.filename is not None:
        full_url = signer.sign("GET", ["files", "enhanced", job.id, job.filename], ttl)
    return {
        "id": job.id,
        "status": job.status,
        "fullUrl": full_url,
        "filename": job.filename,
        "viesusDuration": job.viesus_duration_ms,
        "errorCode": job.error_code,
    }


def webhook_view(webhook: WebhookRecord, *, with_secret: bool) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "url": webhook.url,
        "secret": webhook.secret if with_secret else None,
        "createdAt": webhook.created_at,
    }


def to_json(value: Any) -> Any:
    """A view -> JSON-ready values (DateTime and Decimal as their scalars serialise them)."""
    if isinstance(value, Mapping):
        return {key: to_json(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(inner) for inner in value]
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, Decimal):
        return decimal_to_json(value)
    return value
