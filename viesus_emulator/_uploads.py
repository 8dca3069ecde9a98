"""Upload operations: fetch from a URL, signed upload (reserve, PUT, complete)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from viesus_emulator import _codes as codes
from viesus_emulator._files import (
    StoreError,
    fetch_to_file,
    filename_from_url,
    probe_file,
    safe_filename,
    write_stream,
)
from viesus_emulator._pdf import analysis as pdf_analysis
from viesus_emulator._store import (
    UPLOAD_FAILED,
    UPLOAD_FINISHED,
    UPLOAD_PENDING,
    UploadRecord,
    new_id,
    utcnow,
)
from viesus_emulator._validation import is_http_url
from viesus_emulator._views import upload_view
from viesus_emulator._webhooks import UPLOAD_EVENT
from viesus_emulator._world import EmulatorState


class PutRejected(Exception):
    """A signed PUT that cannot be accepted: HTTP ``status`` with a short ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _upload_path(state: EmulatorState, upload_id: str) -> Path:
    return state.uploads_dir / f"{upload_id}.bin"


async def create_from_url(state: EmulatorState, url: str) -> UploadRecord:
    if not is_http_url(url):
        raise codes.graphql_error(
            codes.BAD_USER_INPUT, "url must be an absolute http(s) URL", field="url"
        )
    upload = UploadRecord(
        id=new_id(),
        status=UPLOAD_PENDING,
        created_at=utcnow(),
        original_filename=filename_from_url(url),
        started_at=utcnow(),
    )
    state.store.uploads[upload.id] = upload
    path = _upload_path(state, upload.id)
    try:
        size = await fetch_to_file(
            state.http, url, path, state.config.max_upload_bytes, state.config.fetch_timeout
        )
    except StoreError as exc:
        _fail(state, upload, exc)
        return upload
    upload.filesize = size
    await _finish(state, upload, path)
    return upload


def create_signed(
    state: EmulatorState, api_key: str, filename: str, filesize: int, mimetype: str
) -> tuple[UploadRecord, str]:
    """Reserve an upload for ``api_key`` (``pending``: a bounded number per key); returns it
    and the signed PUT URL."""
    if filesize <= 0:
        raise codes.graphql_error(
            codes.BAD_USER_INPUT, "filesize must be at least 1 byte", field="filesize"
        )
    if filesize > state.config.max_upload_bytes:
        raise codes.graphql_error(
            codes.BAD_USER_INPUT,
            f"filesize must be at most {state.config.max_upload_bytes} bytes",
            field="filesize",
        )
    if not mimetype.strip() or "/" not in mimetype:
        raise codes.graphql_error(
            codes.BAD_USER_INPUT,
            "mimetype must be a MIME type such as image/jpeg",
            field="mimetype",
        )
    state.pending.admit(api_key, state.store.uploads, state.config.max_pending_uploads)
    upload = UploadRecord(
        id=new_id(),
        status=UPLOAD_PENDING,
        created_at=utcnow(),
        original_filename=safe_filename(filename, "upload"),
        declared_size=filesize,
        declared_mimetype=mimetype.strip().lower(),
        mimetype=mimetype.strip().lower(),
        filesize=filesize,
    )
    state.store.uploads[upload.id] = upload
    state.pending.add(api_key, upload.id)
    url = state.signer.sign("PUT", ["uploads", upload.id], state.config.upload_url_ttl)
    return upload, url


async def receive_put(
    state: EmulatorState,
    upload_id: str,
    content_type: str | None,
    content_length: str | None,
    chunks: AsyncIterator[bytes],
) -> int:
    """Store the body of a signed PUT after checking it against the declaration."""
    upload = state.store.uploads.get(upload_id)
    if upload is None or upload.declared_size is None:
        raise PutRejected(404, "NoSuchUpload", "no signed upload with this id")
    if _completing(upload):
        raise PutRejected(409, "AlreadyCompleted", "this upload is already completed")
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != upload.declared_mimetype:
        raise PutRejected(
            400,
            "MimetypeMismatch",
            f"Content-Type must be the declared mimetype {upload.declared_mimetype}",
        )
    if content_length is not None and content_length != str(upload.declared_size):
        raise PutRejected(
            400, "SizeMismatch", f"Content-Length must be the declared {upload.declared_size}"
        )
    upload.started_at = upload.started_at or utcnow()

    def accept(size: int) -> None:
        # Checked once the body is complete, before it replaces an earlier PUT's bytes.
        if size != upload.declared_size:
            raise PutRejected(
                400, "SizeMismatch", f"{size} bytes received, {upload.declared_size} declared"
            )
        if _completing(upload):
            raise PutRejected(409, "AlreadyCompleted", "this upload is already completed")

    try:
        size = await write_stream(
            chunks, _upload_path(state, upload.id), upload.declared_size, accept=accept
        )
    except StoreError as exc:
        raise PutRejected(
            400, "SizeMismatch", f"more bytes than the declared {upload.declared_size}"
        ) from exc
    upload.received = True
    return size


def _completing(upload: UploadRecord) -> bool:
    """Completed, or being completed: its stored bytes must not change any more."""
    return upload.status != UPLOAD_PENDING or upload.completion is not None


async def complete_signed(state: EmulatorState, upload_id: str) -> UploadRecord:
    upload = state.store.uploads.get(upload_id)
    if upload is None:
        raise codes.graphql_error(codes.NOT_FOUND, "no upload with this id", id=upload_id)
    if upload.status != UPLOAD_PENDING:
        return upload  # idempotent: completing again changes nothing
    if upload.declared_size is None:
        raise codes.graphql_error(
            codes.BAD_USER_INPUT, "this upload was not created by createSignedUploadUrl"
        )
    if not upload.received:
        raise codes.graphql_error(
            codes.UPLOAD_NOT_RECEIVED,
            "no bytes were received for this upload: PUT the file to uploadUrl first",
            id=upload_id,
        )
    if upload.completion is None:
        # One probe and one webhook event, however many completes arrive while it runs.
        upload.completion = asyncio.ensure_future(
            _finish(state, upload, _upload_path(state, upload.id))
        )
    completion = upload.completion
    try:
        await asyncio.shield(completion)
    except Exception:
        if upload.completion is completion:
            upload.completion = None  # an unexpected failure: a later complete tries again
        raise
    return upload


async def _finish(state: EmulatorState, upload: UploadRecord, path: Path) -> None:
    """Probe the stored bytes and end the upload FINISHED or FAILED (one webhook event)."""
    if path.stat().st_size > 0 and await pdf_analysis.is_pdf(path):
        pdf_analysis.accept(state, upload, path)  # FINISHED, analysis queued
        _notify(state, upload)
        return
    try:
        info = await probe_file(path)
    except StoreError as exc:
        _fail(state, upload, exc)
        await asyncio.to_thread(path.unlink, missing_ok=True)
        return
    upload.info = info
    upload.path = path
    upload.status = UPLOAD_FINISHED
    upload.mimetype = info.mimetype
    upload.extension = info.extension
    upload.width = info.width
    upload.height = info.height
    upload.filename = f"{upload.id}.{info.extension}"
    upload.filesize = path.stat().st_size
    upload.finished_at = utcnow()
    _notify(state, upload)


def _fail(state: EmulatorState, upload: UploadRecord, error: StoreError) -> None:
    upload.status = UPLOAD_FAILED
    upload.error = {"code": error.code, "message": error.message}
    upload.finished_at = utcnow()
    upload.started_at = upload.started_at or upload.finished_at
    _notify(state, upload)


def _notify(state: EmulatorState, upload: UploadRecord) -> None:
    view = upload_view(upload, state.signer, state.config.download_url_ttl)
    state.dispatcher.emit(UPLOAD_EVENT, view)
