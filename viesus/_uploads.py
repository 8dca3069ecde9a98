"""Getting inputs onto the service: URL uploads and signed uploads of local files, batched.

URL sources: ``createUploadFromUrl`` K per request. Local files: the signed flow, each of its
two GraphQL steps batched K per request (reserve: ``createSignedUploadUrl``; confirm:
``completeSignedUpload``), and between them the bytes go out as a **streamed** HTTP PUT (a
multi-GB TIFF never sits in memory) with bounded concurrency. The PUT carries no API key: the
signed URL is the credential [inferred]. Uploads cost no credits, so an ambiguous reservation
is simply asked again (the orphan reservation expires on the server).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
from pydantic import ValidationError

from viesus._aliased_requests import BatchSize, Outcome, run_batches
from viesus._errors import InvalidInput, ServerError, ViesusError
from viesus._redact import redact_url
from viesus._retries import NO_RETRY, RetryPolicy, retrying
from viesus._selections import upload_selection
from viesus._upload_errors import error_of_failed_upload, error_of_refused_put, typed_upload_error
from viesus_client import ViesusApiClient
from viesus_client.base_operation import GraphQLField
from viesus_client.custom_fields import SignedUploadUrlFields, UploadFields
from viesus_client.custom_mutations import Mutation
from viesus_client.fragments import CompletedUploadFields as CompletedUpload
from viesus_client.fragments import UploadFields as UploadModel
from viesus_client.input_types import CreateSignedUploadUrlInput, CreateUploadFromUrlInput

log = logging.getLogger("viesus._uploads")
CHUNK = 1 << 16
# Files up to this size go out as one read in one trip to a worker thread (most photos of a
# web shop): streaming them cost two trips and an async body per PUT (profiled: a third of the
# client's CPU for files went to the PUTs). Larger files stream, so memory stays flat.
WHOLE_READ = 1 << 20
T = TypeVar("T")


@dataclass(frozen=True)
class LocalFile:
    path: Path
    mimetype: str
    size: int


@dataclass(frozen=True)
class UploadResult:
    upload_id: str | None = None
    upload: UploadModel | CompletedUpload | None = None  # the lean record after a confirmation
    error: ViesusError | None = None


async def upload_urls(
    api: ViesusApiClient, urls: Sequence[str], size: BatchSize, policy: RetryPolicy
) -> list[UploadResult]:
    def build(url: str) -> UploadFields:
        return upload_selection(Mutation.create_upload_from_url(CreateUploadFromUrlInput(url=url)))

    outcomes = await _with_reasks(api, urls, build, "CreateUploadsFromUrl", size, policy)
    return [_as_upload(o, redact_url(u)) for o, u in zip(outcomes, urls, strict=True)]


async def upload_files(
    api: ViesusApiClient,
    http: httpx.AsyncClient,
    files: Sequence[LocalFile],
    size: BatchSize,
    policy: RetryPolicy,
    concurrency: int = 4,
) -> list[UploadResult]:
    def reserve(item: LocalFile) -> SignedUploadUrlFields:
        return Mutation.create_signed_upload_url(
            CreateSignedUploadUrlInput(
                filename=item.path.name, filesize=item.size, mimetype=item.mimetype
            )
        ).fields(SignedUploadUrlFields.upload_id, SignedUploadUrlFields.upload_url)

    results: list[UploadResult] = [UploadResult()] * len(files)
    reservations = await _with_reasks(api, files, reserve, "CreateSignedUploadUrls", size, policy)
    gate = asyncio.Semaphore(concurrency)

    async def put(index: int, outcome: Outcome) -> str | None:
        if outcome.data is None:
            results[index] = UploadResult(
                error=outcome.error or ServerError("the upload reservation was lost")
            )
            return None
        upload_id, url = str(outcome.data["uploadId"]), str(outcome.data["uploadUrl"])
        async with gate:
            try:
                await put_file(http, url, files[index], policy)
            except ViesusError as exc:
                results[index] = UploadResult(error=exc)
                return None
            except OSError as exc:  # the file vanished or became unreadable meanwhile
                results[index] = UploadResult(
                    error=InvalidInput(str(files[index].path), f"cannot be read ({exc.strerror})")
                )
                return None
        return upload_id

    # TaskGroup, not gather: a bug in one PUT cancels its siblings instead of orphaning them.
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(put(i, o)) for i, o in enumerate(reservations)]
    put_ids = [task.result() for task in tasks]
    to_complete = [(i, uid) for i, uid in enumerate(put_ids) if uid is not None]
    completed = await _with_reasks(
        api,
        [uid for _, uid in to_complete],
        confirmation,
        "CompleteSignedUploads",
        size,
        policy,
    )
    for (index, _), outcome in zip(to_complete, completed, strict=True):
        results[index] = _as_upload(outcome, str(files[index].path), CompletedUpload)
    return results


def confirmation(upload_id: str) -> UploadFields:
    """``completeSignedUpload`` with the ``CompletedUploadFields`` selection (4 fields, not 15:
    a wave's confirmations fit one request)."""
    return Mutation.complete_signed_upload(upload_id).fields(
        UploadFields.id, UploadFields.status, UploadFields.mimetype, UploadFields.metadata
    )


async def put_file(http: httpx.AsyncClient, url: str, item: LocalFile, policy: RetryPolicy) -> None:
    """Stream one file to its signed URL; PUT is idempotent, so failures are retried."""

    async def attempt() -> None:
        if item.size <= WHOLE_READ:
            response = await _put(http, url, item, await _read_whole(item))
        else:
            # aclosing: a PUT that fails or is cancelled mid-body closes the file at once.
            async with contextlib.aclosing(_chunks(item.path)) as chunks:
                response = await _put(http, url, item, chunks)
        if response.status_code < 300:
            return
        if response.status_code < 500 and response.status_code != 429:
            raise error_of_refused_put(str(item.path), response.status_code, response.content)
        raise _PutFailed(f"HTTP {response.status_code}")

    try:
        await retrying(
            policy,
            attempt,
            retry_on=lambda exc: isinstance(exc, _PutFailed),
            what=f"PUT {item.path.name}",
        )
    except _PutFailed as exc:
        raise ServerError(
            f"{item.path}: upload failed after {policy.max_attempts} attempts ({exc})"
        ) from None


async def _put(
    http: httpx.AsyncClient, url: str, item: LocalFile, body: bytes | AsyncGenerator[bytes, None]
) -> httpx.Response:
    try:
        return await http.put(
            url,
            content=body,
            headers={"content-type": item.mimetype, "content-length": str(item.size)},
            extensions={NO_RETRY: True},
        )
    except httpx.TransportError as exc:
        raise _PutFailed(type(exc).__name__) from None


async def _read_whole(item: LocalFile) -> bytes:
    body = await asyncio.to_thread(item.path.read_bytes)
    if len(body) != item.size:  # the reservation announced item.size bytes
        raise InvalidInput(
            str(item.path), "changed while it was being uploaded; run again to upload it as it is"
        )
    return body


class _PutFailed(Exception):
    """A PUT failure worth another attempt (transport error, 5xx, 429)."""


async def _chunks(path: Path) -> AsyncGenerator[bytes, None]:
    with path.open("rb") as handle:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            yield chunk


async def _with_reasks(
    api: ViesusApiClient,
    items: Sequence[T],
    build: Callable[[T], GraphQLField],
    operation_name: str,
    size: BatchSize,
    policy: RetryPolicy,
) -> list[Outcome]:
    """``run_batches``, asking again (uploads are free) for items whose answer was lost."""
    outcomes = await run_batches(
        api, items, build, operation_name=operation_name, mutation=True, size=size
    )
    lost = [i for i, o in enumerate(outcomes) if o.ambiguous]
    if not lost:
        return outcomes

    async def ask_again() -> None:
        nonlocal lost
        again = await run_batches(
            api,
            [items[i] for i in lost],
            build,
            operation_name=operation_name,
            mutation=True,
            size=size,
        )
        for i, outcome in zip(lost, again, strict=True):
            outcomes[i] = outcome
        lost = [i for i in lost if outcomes[i].ambiguous]
        if lost:
            raise _StillLost

    with contextlib.suppress(_StillLost):
        await retrying(
            policy, ask_again, retry_on=lambda e: isinstance(e, _StillLost), what=operation_name
        )
    return outcomes


class _StillLost(Exception):
    """Some free upload steps are still without an answer: ask again after a backoff."""


def _as_upload(
    outcome: Outcome,
    source: str,
    model: type[UploadModel] | type[CompletedUpload] = UploadModel,
) -> UploadResult:
    if outcome.data is None:
        if outcome.error is not None:
            return UploadResult(error=typed_upload_error(source, outcome.error))
        return UploadResult(error=ServerError(f"{source}: upload answer lost"))
    try:
        upload = model.model_validate(outcome.data)
    except ValidationError:
        # A value this client does not know (a new upload status, say) must not sink the
        # batch: keep the id and let the create tell whether the upload is usable.
        upload_id = outcome.data.get("id")
        if not isinstance(upload_id, str):
            return UploadResult(error=ServerError(f"{source}: unreadable upload answer"))
        log.warning(
            "upload %s has values unknown to this client: %s", upload_id, outcome.data.get("status")
        )
        return UploadResult(upload_id=upload_id)
    if upload.status.value == "UPLOAD_FAILED":
        return UploadResult(
            upload_id=upload.id,
            upload=upload,
            error=error_of_failed_upload(source, outcome.data),
        )
    return UploadResult(upload_id=upload.id, upload=upload)
