"""The emulator's records: uploads, enhancement jobs and webhooks, kept in memory.

Records are plain mutable dataclasses owned by the event loop (only coroutines on the server's
loop change them; engine threads get bytes and return bytes). GraphQL never sees a record
directly: ``_views`` turns one into the dict of GraphQL field values at resolve time.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from viesus_emulator._engine import ImageInfo
from viesus_emulator._pdf.records import PdfRecord

UPLOAD_PENDING = "UPLOAD_PENDING"
UPLOAD_FINISHED = "UPLOAD_FINISHED"
UPLOAD_FAILED = "UPLOAD_FAILED"

QUEUED = "QUEUED"
FINISHED = "FINISHED"
ERROR = "ERROR"


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """Opaque ids (the real format is not documented): random UUIDs, unique per process."""
    return str(uuid.uuid4())


@dataclass
class UploadRecord:
    """One upload: a signed upload waiting for its bytes, or a stored (or failed) file."""

    id: str
    status: str
    created_at: datetime
    original_filename: str | None = None
    #: What createSignedUploadUrl declared; the PUT must match both.
    declared_size: int | None = None
    declared_mimetype: str | None = None
    #: True once a signed PUT stored all declared bytes.
    received: bool = False
    #: The running (or ended) completeSignedUpload probe: concurrent completes share it.
    completion: asyncio.Future[None] | None = field(default=None, repr=False, compare=False)
    filesize: int | None = None
    mimetype: str | None = None
    extension: str | None = None
    filename: str | None = None
    width: int | None = None
    height: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    path: Path | None = None
    info: ImageInfo | None = None
    #: Why the upload failed: {"code": ..., "message": ...}; shown as metadata.error.
    error: dict[str, str] | None = None
    job_ids: list[str] = field(default_factory=list)
    #: A PDF's analysis state and result (``pdf_analysis``); None for images.
    pdf: PdfRecord | None = None

    @property
    def duration_ms(self) -> int | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds() * 1000)


@dataclass
class JobRecord:
    """One enhancement job (an ``EnhancedImage``)."""

    id: str
    upload_id: str
    #: The EnhancedImageInput as given (GraphQL names, only set fields, nulls dropped).
    params: dict[str, Any]
    #: Canonical JSON of params: two jobs with the same upload and key are duplicates.
    canonical_input: str
    cost: int
    created_at: datetime
    status: str = QUEUED
    #: When a worker slot took the job (None while it waits, or if it never ran).
    started_at: datetime | None = None
    finished_at: datetime | None = None
    filename: str | None = None
    result_path: Path | None = None
    result_mimetype: str | None = None
    width: int | None = None
    height: int | None = None
    viesus_duration_ms: int | None = None
    error_code: str | None = None
    #: For logs and tests only; the schema has no field for it.
    error_message: str | None = None


@dataclass
class WebhookRecord:
    id: str
    url: str
    created_at: datetime
    #: HMAC key of the deliveries; shown once by createWebhook, never in a repr.
    secret: str = field(repr=False)


@dataclass
class Store:
    """All records of one emulator instance, by id, in creation order."""

    uploads: dict[str, UploadRecord] = field(default_factory=dict)
    jobs: dict[str, JobRecord] = field(default_factory=dict)
    webhooks: dict[str, WebhookRecord] = field(default_factory=dict)

    def jobs_of(self, upload_id: str) -> list[JobRecord]:
        upload = self.uploads.get(upload_id)
        if upload is None:
            return []
        return [self.jobs[job_id] for job_id in upload.job_ids]
