"""The worker pool: ``workers`` slots process queued jobs, the engine runs in threads."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from viesus_emulator import _codes as codes
from viesus_emulator._engine import EngineError, EngineResult, enhance, processing_seconds
from viesus_emulator._files import StoreError, enhanced_filename, fetch_bytes
from viesus_emulator._pdf import jobs as pdf_jobs
from viesus_emulator._pdf.analysis import PdfAnalyses
from viesus_emulator._pdf.records import PdfProblem
from viesus_emulator._services import Services
from viesus_emulator._store import ERROR, FINISHED, QUEUED, JobRecord, UploadRecord, utcnow
from viesus_emulator._views import job_view
from viesus_emulator._webhooks import ENHANCED_IMAGE_EVENT

log = logging.getLogger("viesus_emulator.worker")


class JobFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class WorkerPool:
    def __init__(self, state: Services) -> None:
        self._state = state
        self._queue: asyncio.Queue[JobRecord] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._busy = 0
        #: PDF analyses have a queue of their own, started, drained and closed with this one.
        self.pdf = PdfAnalyses(state)

    def start(self) -> None:
        count = self._state.config.workers
        self._executor = ThreadPoolExecutor(max_workers=count, thread_name_prefix="viesus-engine")
        self._tasks = [
            asyncio.create_task(self._run(), name=f"viesus-worker-{n}") for n in range(count)
        ]
        self.pdf.start()

    def submit(self, job: JobRecord) -> None:
        self._queue.put_nowait(job)

    def fail_now(self, job: JobRecord, code: str, message: str) -> None:
        """End a job that never reserved credits (refused by a check at creation)."""
        job.viesus_duration_ms = 0
        self._end(job, error=JobFailed(code, message), reserved=False)

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    @property
    def busy(self) -> int:
        return self._busy

    async def drain(self) -> None:
        """Wait until every submitted job and PDF analysis has ended."""
        await self.pdf.drain()
        await self._queue.join()

    async def aclose(self) -> None:
        await self.pdf.aclose()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._executor is not None:
            # Engine calls already running cannot be interrupted; wait for them off the loop.
            await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
            self._executor = None

    async def _run(self) -> None:
        while True:
            job = await self._queue.get()
            self._busy += 1
            try:
                await self._process(job)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not kill the slot: the job fails, the pool lives
                log.exception("job %s failed unexpectedly", job.id)
                self._end(job, error=JobFailed(codes.PROCESSING_FAILED, "unexpected failure"))
            finally:
                self._busy -= 1
                self._queue.task_done()

    async def _process(self, job: JobRecord) -> None:
        state = self._state
        started = time.monotonic()
        job.started_at = utcnow()  # for /stats: per-job times give the makespan
        upload = state.store.uploads[job.upload_id]
        if upload.pdf is not None:
            await self._process_pdf(job, upload, started)
            return
        assert upload.info is not None
        assert upload.path is not None
        try:
            # create_job ended every job that breaks the upscaling limits (fail_now).
            modelled = processing_seconds(upload.info, job.params) * state.config.time_scale
            background = await self._background(job.params)
            result = await self._enhance(upload.path, job.params, background)
            await self._complete_modelled_time(modelled, started)
        except JobFailed as exc:
            self._end(job, error=exc, started=started)
            return
        filename = enhanced_filename(upload.original_filename, upload.id, result.extension)
        path = state.results_dir / f"{job.id}.{result.extension}"
        await asyncio.to_thread(path.write_bytes, result.data)
        job.filename = filename
        job.result_path = path
        job.result_mimetype = result.mimetype
        job.width, job.height = result.width, result.height
        self._end(job, started=started)

    async def _complete_modelled_time(self, modelled: float, started: float) -> None:
        """Let the job take its modelled time (the engine may be quicker), then maybe fail it
        by injection, as a real job can fail late."""
        remaining = modelled - (time.monotonic() - started)
        if remaining > 0:
            await asyncio.sleep(remaining)
        state = self._state
        if state.injector.job_fails(state.faults):
            state.stats.record_fault("job_error")
            raise JobFailed(codes.PROCESSING_FAILED, "injected processing failure")

    async def _process_pdf(self, job: JobRecord, upload: UploadRecord, started: float) -> None:
        """A PDF job: every eligible embedded image through the same engine (``pdf_jobs``)."""
        state = self._state
        try:
            modelled = pdf_jobs.modelled(upload, job.params) * state.config.time_scale
            try:
                path, _ = await pdf_jobs.run(
                    self._executor,
                    state.results_dir,
                    job,
                    upload,
                    state.config.seed,
                    self.pdf.limits.job_seconds,
                )
            except (PdfProblem, EngineError) as exc:
                raise JobFailed(exc.code, exc.message) from exc
            await self._complete_modelled_time(modelled, started)
        except JobFailed as exc:
            self._end(job, error=exc, started=started)
            return
        job.result_path = path
        self._end(job, started=started)

    async def _background(self, params: dict[str, Any]) -> bytes | None:
        url = params.get("backgroundRemovalReplaceImageUrl")
        if params.get("backgroundRemovalMode") != "REPLACE" or not url:
            return None
        config = self._state.config
        try:
            return await fetch_bytes(
                self._state.http, url, config.max_upload_bytes, config.fetch_timeout
            )
        except StoreError as exc:
            raise JobFailed(codes.BACKGROUND_FETCH_FAILED, exc.message) from exc

    async def _enhance(
        self, source: Path, params: dict[str, Any], background: bytes | None
    ) -> EngineResult:
        loop = asyncio.get_running_loop()
        seed = self._state.config.seed

        def call() -> EngineResult:
            return enhance(source.read_bytes(), params, background=background, seed=seed)

        try:
            return await loop.run_in_executor(self._executor, call)
        except EngineError as exc:
            raise JobFailed(exc.code, exc.message) from exc

    def _end(
        self,
        job: JobRecord,
        *,
        error: JobFailed | None = None,
        started: float | None = None,
        reserved: bool = True,
    ) -> None:
        if job.status != QUEUED:
            return  # already ended: a failure after the end must not settle the credits twice
        state = self._state
        now = utcnow()
        job.finished_at = now
        if started is not None:
            job.viesus_duration_ms = round((time.monotonic() - started) * 1000)
        if error is None:
            job.status = FINISHED
            state.ledger.charge(job.cost, now)
        else:
            job.status = ERROR
            job.error_code = error.code
            job.error_message = error.message
            if reserved:
                state.ledger.release(job.cost)
        try:
            view = job_view(job, state.signer, state.config.download_url_ttl)
            state.dispatcher.emit(ENHANCED_IMAGE_EVENT, view)
        except Exception:  # the job has ended and is settled: a lost event must not undo that
            log.exception("the status event of job %s could not be emitted", job.id)
