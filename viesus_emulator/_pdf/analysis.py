"""PDF uploads: accepted like images, then analysed in a queue of their own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from viesus_emulator import _codes as codes
from viesus_emulator._pdf.pricing import metadata
from viesus_emulator._pdf.records import (
    ANALYSIS_FAILED,
    ANALYZED,
    ANALYZING,
    PDF_MIMETYPE,
    Eligibility,
    PdfLimits,
    PdfProblem,
    PdfRecord,
    ScanResult,
)
from viesus_emulator._pdf.scan import scan
from viesus_emulator._services import Services
from viesus_emulator._store import UPLOAD_FINISHED, UPLOAD_PENDING, UploadRecord, utcnow
from viesus_emulator._views import upload_view
from viesus_emulator._webhooks import UPLOAD_EVENT

log = logging.getLogger("viesus_emulator.pdf")

#: [assumption] modelled analysis time: 1 s, plus 0.05 s per page and 0.1 s per image, at
#: most 60 s (the docs give none; reading a PDF is cheaper than enhancing its images).
MIN_ANALYSIS_SECONDS = 1.0
MAX_ANALYSIS_SECONDS = 60.0


def analysis_seconds(result: ScanResult | None) -> float:
    if result is None:
        return MIN_ANALYSIS_SECONDS
    seconds = MIN_ANALYSIS_SECONDS + 0.05 * result.pages + 0.1 * len(result.images)
    return min(MAX_ANALYSIS_SECONDS, seconds)


def _starts_like_pdf(path: Path) -> bool:
    # The PDF header may follow a little junk (the spec tolerates it within the first 1 KiB).
    with path.open("rb") as file:
        return b"%PDF-" in file.read(1024)


async def is_pdf(path: Path) -> bool:
    return await asyncio.to_thread(_starts_like_pdf, path)


def accept(state: Services, upload: UploadRecord, path: Path) -> None:
    """End a stored PDF upload FINISHED and queue its analysis (the caller emits the event)."""
    upload.path = path
    upload.status = UPLOAD_FINISHED
    upload.mimetype = PDF_MIMETYPE
    upload.extension = "pdf"
    upload.filename = f"{upload.id}.pdf"
    upload.filesize = path.stat().st_size
    upload.finished_at = utcnow()
    upload.pdf = PdfRecord()
    state.workers.pdf.submit(upload)


def request_analysis(state: Services, upload_id: str) -> UploadRecord:
    """``analyzePdf``: queue a new analysis of a PDF upload that is not being analysed."""
    upload = state.store.uploads.get(upload_id)
    if upload is None:
        raise codes.graphql_error(codes.NOT_FOUND, "no upload with this id", id=upload_id)
    if upload.pdf is None:
        if upload.status == UPLOAD_PENDING:
            raise codes.graphql_error(
                codes.UPLOAD_NOT_READY,
                "the upload is UPLOAD_PENDING: complete it first (a PDF is analysed by itself)",
                id=upload_id,
            )
        raise codes.graphql_error(
            codes.UNSUPPORTED_FORMAT, "this upload is not a PDF: nothing to analyse", id=upload_id
        )
    if upload.pdf.sub_status == ANALYZING:
        raise codes.graphql_error(
            codes.PDF_ANALYSIS_RUNNING,
            "the PDF is being analysed (METADATA_ANALYZING): wait for the result",
            id=upload_id,
        )
    state.workers.pdf.submit(upload)
    _notify(state, upload)
    return upload


def _notify(state: Services, upload: UploadRecord) -> None:
    view = upload_view(upload, state.signer, state.config.download_url_ttl)
    state.dispatcher.emit(UPLOAD_EVENT, view)


class PdfAnalyses:
    """The analysis queue; owned by the worker pool (started, drained and closed with it).

    ``limits`` and ``rule`` may be replaced at run time (tests shrink the limits).
    """

    def __init__(self, state: Services) -> None:
        self._state = state
        self._queue: asyncio.Queue[UploadRecord] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.limits = PdfLimits()
        self.rule = Eligibility()

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name=f"viesus-pdf-analysis-{n}")
            for n in range(self._state.config.workers)
        ]

    def submit(self, upload: UploadRecord) -> None:
        assert upload.pdf is not None
        upload.pdf.sub_status = ANALYZING
        upload.pdf.metadata = None
        self._queue.put_nowait(upload)

    async def drain(self) -> None:
        await self._queue.join()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _run(self) -> None:
        while True:
            upload = await self._queue.get()
            try:
                await self._analyse(upload)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not kill the slot: the analysis fails, the queue lives
                log.exception("analysis of upload %s failed unexpectedly", upload.id)
                self._end(upload, None, PdfProblem(codes.PDF_DAMAGED, "unexpected failure"))
            finally:
                self._queue.task_done()

    async def _analyse(self, upload: UploadRecord) -> None:
        assert upload.path is not None
        assert upload.pdf is not None
        started = time.monotonic()
        upload.pdf.runs += 1
        result: ScanResult | None = None
        problem: PdfProblem | None = None
        try:
            result = await asyncio.to_thread(scan, upload.path, self.limits, self.rule)
        except PdfProblem as exc:
            problem = exc
        modelled = analysis_seconds(result) * self._state.config.time_scale
        remaining = modelled - (time.monotonic() - started)
        if remaining > 0:
            await asyncio.sleep(remaining)
        self._end(upload, result, problem)

    def _end(
        self, upload: UploadRecord, result: ScanResult | None, problem: PdfProblem | None
    ) -> None:
        assert upload.pdf is not None
        record = upload.pdf
        if result is not None and problem is None:
            record.scan = result
            record.metadata = metadata(result, self.rule)
            record.sub_status = ANALYZED
        else:
            record.scan = None
            error = problem or PdfProblem(codes.PDF_DAMAGED, "no result")
            record.metadata = {"error": {"code": error.code, "message": error.message}}
            record.sub_status = ANALYSIS_FAILED
        with contextlib.suppress(Exception):  # the analysis has ended: a lost event cannot undo it
            _notify(self._state, upload)
