"""Uploads of a wave (files, their downscaled copies, URLs), each journalled, and the PDF
analyses that price a PDF before anything is created for it."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from viesus._downscale import FOLDER, write_downscaled
from viesus._errors import (
    InvalidInput,
    LimitExceeded,
    ServerError,
    UploadFetchFailed,
    ViesusError,
)
from viesus._image_headers import ImageHeader
from viesus._journal.states import ItemState
from viesus._pdf import PDF_MIMETYPE, PdfAnalysisFailed, await_analyses
from viesus._pipeline import _tuning as tuning
from viesus._pipeline._state import BatchState, Item, reason
from viesus._preflight import check_limits
from viesus._uploads import LocalFile, UploadResult, upload_files, upload_urls
from viesus_client.fragments import UploadFields as UploadModel


async def upload(batch: BatchState, items: list[Item]) -> None:
    """Upload ``items`` (URLs, then files) and journal each upload or why it failed."""
    urls = [i for i in items if i.path is None]
    files = [i for i in items if i.path is not None and i.header is not None]
    client = batch.client
    policy = client.retry_policy
    url_results = await _upload_urls(batch, urls)
    local = await asyncio.to_thread(_local_files, batch, files)
    try:
        file_results = await upload_files(
            client.api, client.http, local, client.signed_batch, policy, client.upload_concurrency
        )
    finally:
        for item, file in zip(files, local, strict=True):
            if file.path != item.path:  # a downscaled copy: uploaded, or written again
                await asyncio.to_thread(_remove_copy, file.path)
    for item, result in zip(urls + files, url_results + file_results, strict=True):
        error = _refusal(batch, item, result)
        if error is not None:
            batch.book.upload_failed(item.key, str(error))
            batch.fail(item, error)
    await batch.book.flush()


async def _upload_urls(batch: BatchState, items: list[Item]) -> list[UploadResult]:
    """URL uploads; a bucket source goes as a presigned GET URL, signed now, and once more
    if the service could not fetch it (``FETCH_FAILED``: expired, say), free."""
    client = batch.client
    addresses = [await _address(batch, item) for item in items]
    results = await upload_urls(client.api, addresses, client.batch, client.retry_policy)
    again = [
        n
        for n, (item, result) in enumerate(zip(items, results, strict=True))
        if item.bucket and isinstance(result.error, UploadFetchFailed)
    ]
    if again:
        resigned = [await _address(batch, items[n]) for n in again]
        retried = await upload_urls(client.api, resigned, client.batch, client.retry_policy)
        for n, result in zip(again, retried, strict=True):
            results[n] = result
    return results


async def _address(batch: BatchState, item: Item) -> str:
    if not item.bucket:
        return item.source
    assert batch.buckets is not None
    return await batch.buckets.sign(item.source)


def _refusal(batch: BatchState, item: Item, result: UploadResult) -> ViesusError | None:
    """Journal the item's upload; why the item goes no further, if it does not."""
    if result.error is not None or result.upload_id is None:
        return result.error or ServerError(f"{item.shown}: upload failed")
    batch.book.uploaded(item.key, result.upload_id)
    upload = result.upload
    if upload is not None and upload.mimetype and (upload.mimetype == PDF_MIMETYPE) != item.pdf:
        # [assumption] a URL names a PDF by its .pdf path; the other way it would be
        # created unpriced (or analysed forever): refused, free.
        kind = "a PDF whose URL does not end in .pdf" if not item.pdf else "not a PDF"
        return InvalidInput(
            item.shown,
            f"is {kind} (the service stored it as {upload.mimetype}); give PDFs a URL "
            "ending in .pdf and images one that does not",
        )
    if item.path is None and isinstance(upload, UploadModel) and upload.width and upload.height:
        header = ImageHeader(
            upload.mimetype or "",
            upload.mimetype or "",
            upload.extension or "",
            upload.width,
            upload.height,
        )
        try:
            check_limits(item.shown, header, batch.options)
        except LimitExceeded as exc:
            return exc
    return None


def _local_files(batch: BatchState, items: list[Item]) -> list[LocalFile]:
    """What to upload for each file: the file, or its downscaled copy (written here)."""
    files = []
    for item in items:
        assert item.path is not None
        assert item.header is not None
        path = item.path
        if item.downscale_to is not None:
            tag = item.content_hash or item.key.source_id.encode().hex()[:32]
            path = write_downscaled(path, item.downscale_to, batch.out_dir / FOLDER, tag)
        files.append(LocalFile(path, item.header.mimetype, path.stat().st_size))
    return files


def _remove_copy(path: Path) -> None:
    """Remove a downscaled copy, and its folder once empty."""
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        path.parent.rmdir()


async def analyse(batch: BatchState, pdfs: list[Item]) -> None:
    """Upload the PDFs not yet uploaded (journalled before the wait), wait for every
    analysis at once, journal each estimate (``analyzed``) or why there is none."""
    await upload(batch, [i for i in pdfs if batch.state(i) is ItemState.PLANNED])
    waiting = [i for i in pdfs if i.result is None and batch.state(i) is ItemState.UPLOADED]
    if not waiting:
        return
    analyses = await await_analyses(
        batch.client,
        [(i.shown, batch.upload_id(i)) for i in waiting],
        batch.timeout or tuning.ANALYSIS_TIMEOUT,
    )
    for item, analysis in zip(waiting, analyses, strict=True):
        if isinstance(analysis, PdfAnalysisFailed):
            batch.book.analysis_failed(item.key, reason(analysis))  # a rerun uploads anew
            batch.fail(item, analysis)
        elif isinstance(analysis, ViesusError):
            batch.fail(item, analysis)  # not read: a rerun asks the same upload again
        elif (estimate := analysis.credits_for(batch.options)) is None:
            error = InvalidInput(item.shown, "its analysis gives no estimate for these options")
            batch.book.analysis_failed(item.key, str(error))
            batch.fail(item, error)
        else:
            batch.book.analyzed(item.key, estimate)
    await batch.book.flush()
