"""The web-app flow: a browser PUTs the photo itself, the server enhances it without paying twice.

:func:`create_browser_upload` checks name, type and size and reserves a signed upload for the
page; :func:`enhance_upload` completes it and creates its job only after reading the upload's
jobs (a restarted web app adopts the job it made). The steps and assumptions: docs/DESIGN.md.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Final

from viesus._aliased_requests import BatchSize, Outcome, run_batches
from viesus._errors import (
    GraphQLRequestError,
    InvalidInput,
    LimitExceeded,
    ServerError,
    UnsupportedUpload,
    UploadFailed,
    ViesusError,
)
from viesus._image_headers import ImageHeader
from viesus._jobs import ERROR, Job
from viesus._pipeline._client import PipelineClient
from viesus._pipeline._create import jobs_on_upload
from viesus._pipeline._tuning import CREATE_ATTEMPTS, RECONCILE_READS
from viesus._preflight import check_limits, estimate_credits
from viesus._selections import create_job, job_selection, upload_jobs
from viesus._upload_errors import error_of_failed_upload, typed_upload_error
from viesus._uploads import _with_reasks
from viesus_client.custom_fields import SignedUploadUrlFields, UploadFields
from viesus_client.custom_mutations import Mutation
from viesus_client.input_types import CreateSignedUploadUrlInput, EnhancedImageInput

__all__ = ["ACCEPTED_TYPES", "MAX_BROWSER_UPLOAD_BYTES", "BrowserUpload", "UploadJob"]

#: Extension -> mimetype of the photo formats the service takes [docs: JPEG, PNG, TIFF, WebP].
#: PDFs are left out: they need the service's analysis first (``enhance_pdf``).
ACCEPTED_TYPES: Final = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "webp": "image/webp",
}
#: Largest file a page may upload. [assumption] The service documents no size limit; this is
#: the emulator's cap (``EmulatorConfig.max_upload_bytes``); pass ``max_bytes=`` to change it.
MAX_BROWSER_UPLOAD_BYTES: Final = 100 * 1024 * 1024


@dataclass(frozen=True)
class BrowserUpload:
    """What the page needs: ``PUT url`` with ``headers`` and the file as the body. ``url`` is
    a credential (a signed URL): hand it to that page only, never log it."""

    upload_id: str
    url: str = field(repr=False)
    headers: dict[str, str]
    method: str = "PUT"


@dataclass(frozen=True)
class UploadJob:
    """The job made (or found) for an upload: ``adopted`` when it existed already, ``credits``
    the documented price of these options (charged once the job finishes; an ERROR is free)."""

    upload_id: str
    job: Job
    adopted: bool
    credits: int
    width: int | None = None
    height: int | None = None


class UnsupportedType(UnsupportedUpload):
    """A file type refused here, before any request (not by the service)."""

    def __init__(self, source: str, reason: str) -> None:
        InvalidInput.__init__(self, source, reason)
        self.code: str | None = "UNSUPPORTED_FORMAT"
        self.service_reason: str | None = None


def checked_type(filename: str, mimetype: str | None) -> str:
    """The mimetype to declare for ``filename``, or ``UnsupportedUpload`` before any request."""
    extension = PurePosixPath(filename).suffix.lower().lstrip(".")
    expected = ACCEPTED_TYPES.get(extension)
    declared = (mimetype or "").split(";")[0].strip().lower()
    accepted = "JPEG, PNG, TIFF or WebP (.jpg, .png, .tif, .webp)"
    if expected is None:
        raise UnsupportedType(filename, f"not a photo type the service takes: {accepted}")
    if declared and declared != expected:
        raise UnsupportedType(filename, f"its type {declared} does not match .{extension}")
    return expected


async def create_browser_upload(
    client: PipelineClient, filename: str, size: int, mimetype: str | None, max_bytes: int
) -> BrowserUpload:
    declared = checked_type(filename, mimetype)
    if size < 1:
        raise InvalidInput(filename, "the file is empty")
    if size > max_bytes:
        raise LimitExceeded(
            filename, "the file size in bytes", size, max_bytes, "send a smaller file"
        )

    def reserve(name: str) -> SignedUploadUrlFields:
        return Mutation.create_signed_upload_url(
            CreateSignedUploadUrlInput(filename=name, filesize=size, mimetype=declared)
        ).fields(SignedUploadUrlFields.upload_id, SignedUploadUrlFields.upload_url)

    [outcome] = await _with_reasks(
        client.api, [filename], reserve, "CreateBrowserUpload", BatchSize(1), client.retry_policy
    )
    if outcome.data is None:
        raise typed_upload_error(filename, outcome.error or ServerError("reservation lost"))
    return BrowserUpload(
        upload_id=str(outcome.data["uploadId"]),
        url=str(outcome.data["uploadUrl"]),
        headers={"Content-Type": declared},
    )


_LOCKS: weakref.WeakValueDictionary[tuple[int, str], asyncio.Lock] = weakref.WeakValueDictionary()


async def enhance_upload(
    client: PipelineClient, upload_id: str, options: EnhancedImageInput
) -> UploadJob:
    lock = _LOCKS.setdefault((id(client), upload_id), asyncio.Lock())
    async with lock:
        upload = await _complete(client, upload_id)
        credits = estimate_credits(options)
        size = (upload.get("width"), upload.get("height"))
        width, height = (v if isinstance(v, int) else None for v in size)
        found = _found(upload_id, Outcome(data=upload))
        if found is not None:
            return UploadJob(upload_id, found, True, credits, width, height)
        shown = str(upload.get("originalFilename") or upload_id)
        header = ImageHeader("", str(upload.get("mimetype") or ""), "", width, height)
        check_limits(shown, header, options)  # before anything is charged
        job, adopted = await _create(client, upload_id, options, shown)
        return UploadJob(upload_id, job, adopted, credits, width, height)


async def _complete(client: PipelineClient, upload_id: str) -> dict[str, Any]:
    """``completeSignedUpload`` with the upload's jobs in its answer (free: asked again when
    lost); a failed upload raises its typed error."""

    def build(uid: str) -> UploadFields:
        return Mutation.complete_signed_upload(uid).fields(
            UploadFields.id,
            UploadFields.status,
            UploadFields.mimetype,
            UploadFields.original_filename,
            UploadFields.width,
            UploadFields.height,
            UploadFields.metadata,
            job_selection(UploadFields.enhanced_images()),
        )

    [outcome] = await _with_reasks(
        client.api, [upload_id], build, "CompleteBrowserUpload", BatchSize(1), client.retry_policy
    )
    if outcome.data is None:
        error = outcome.error or ServerError("upload answer lost")
        if isinstance(error, GraphQLRequestError) and error.code == "UPLOAD_NOT_RECEIVED":
            raise UploadFailed(upload_id, error.code, str(error), "the page must PUT it again")
        raise typed_upload_error(upload_id, error)
    if outcome.data.get("status") == "UPLOAD_FAILED":
        shown = str(outcome.data.get("originalFilename") or upload_id)
        raise error_of_failed_upload(shown, outcome.data)
    return outcome.data


def _found(upload_id: str, outcome: Outcome) -> Job | None:
    """The upload's job to adopt (the live one, else the last); ``None`` for a proven "no job";
    ``ServerError`` when the answer cannot say (unknown is never "no job")."""
    jobs, why = jobs_on_upload(outcome)
    if why is not None:
        raise ServerError(f"upload {upload_id}: cannot tell whether a job exists ({why})")
    live = [j for j in jobs if j.status != ERROR]
    return live[0] if live else None


async def _create(
    client: PipelineClient, upload_id: str, options: EnhancedImageInput, shown: str
) -> tuple[Job, bool]:
    """Create the job; after a lost answer read the upload (with backoff) and adopt what is
    there; send again only once the reads prove nothing was made."""
    for _ in range(CREATE_ATTEMPTS):
        [outcome] = await run_batches(
            client.api,
            [upload_id],
            lambda uid: create_job(uid, options),
            operation_name="CreateEnhancedImages",
            mutation=True,
            size=BatchSize(1),
        )
        if outcome.data is not None and not outcome.ambiguous:
            try:
                return Job.from_data(outcome.data), False
            except (ValueError, TypeError):
                pass  # unreadable: it may have run, reconcile below
        elif not outcome.ambiguous:
            raise outcome.error or ServerError(f"{shown}: the create was refused")
        job = await _reconcile(client, upload_id)
        if job is not None:
            client.adopted += 1
            return job, True
    raise ServerError(f"{shown}: the create kept failing (nothing was charged); try again")


async def _reconcile(client: PipelineClient, upload_id: str) -> Job | None:
    for read in range(RECONCILE_READS):
        if read > 0:
            await asyncio.sleep(client.retry_policy.backoff(read))
        [outcome] = await run_batches(
            client.api,
            [upload_id],
            upload_jobs,
            operation_name="ReconcileUploads",
            mutation=False,
            size=BatchSize(1),
        )
        try:
            job = _found(upload_id, outcome)
        except ViesusError:
            if read == RECONCILE_READS - 1:
                raise
            continue
        if job is not None:
            return job
    return None
