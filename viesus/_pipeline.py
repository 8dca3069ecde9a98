"""``enhance_many``: many sources through upload -> create -> wait -> download, frugally.

Order of work, and why:
1. **Check before spending**: options validated once; each file's header read (no decode) and
   the AI upscaling limits checked; the output name planned and checked for collisions.
   A URL source's size is known after its (free) upload, and is checked before its create.
2. **Journal** (optional): finished items are skipped, known jobs re-attached, uploads reused,
   intents without a job reconciled. The key is content hash + parameters hash.
3. **Budget**: the estimated credits of everything still to create against ``max_credits``
   and the account's remaining credits, before the first create. Nothing is spent otherwise.
4. **Uploads**, batched; **creates**, batched K per request. An intent is journalled before
   each create. An ambiguous create (answer lost) is reconciled by listing the upload's jobs:
   each item has its own upload, so any job there is that item's, adopted, never re-created.
5. Steps 4-5 run in **waves** of a few batches, so work starts before the last upload.
   **Waits** share the client's poller (one aliased query per tick for all jobs), webhooks
   resolve them early; **downloads** are streamed and atomic, with bounded concurrency.
Results are yielded as items complete; a failure is a result, not an exception.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from viesus._batching import BatchSize, run_batches
from viesus._downloads import download, output_path, result_extension
from viesus._errors import (
    EnhancementFailed,
    InvalidInput,
    LimitExceeded,
    ServerError,
    ViesusError,
)
from viesus._jobs import Job
from viesus._journal import Journal, JournalKey, hash_file, hash_params, hash_url
from viesus._preflight import (
    ImageHeader,
    check_budget,
    check_limits,
    estimate_credits,
    read_image_header,
)
from viesus._redact import redact_url
from viesus._results import EnhanceResult
from viesus._retries import RetryPolicy
from viesus._selections import create_job, upload_jobs
from viesus._uploads import LocalFile, upload_files, upload_urls
from viesus_client import ViesusApiClient
from viesus_client.input_types import EnhancedImageInput

log = logging.getLogger("viesus._pipeline")

CREATE_ATTEMPTS = 3
# Items uploaded and created per wave, in batches: the first jobs start while later files upload.
WAVE_BATCHES = 4


def is_url(source: str | Path) -> bool:
    return isinstance(source, str) and source.split("://", 1)[0].lower() in ("http", "https")


@dataclass
class Item:
    source: str
    shown: str  # the source as it may appear in logs and errors (URLs redacted)
    path: Path | None
    header: ImageHeader | None = None
    key: JournalKey | None = None
    dest: Path | None = None
    upload_id: str | None = None
    job_id: str | None = None
    credits: int = 0
    reconcile: bool = False
    result: EnhanceResult | None = None
    waiters: list[Item] = field(default_factory=list)  # duplicates of this item in the batch

    def fail(self, error: ViesusError) -> EnhanceResult:
        self.result = EnhanceResult(
            source=self.source,
            status="failed",
            job_id=self.job_id,
            upload_id=self.upload_id,
            error=error,
        )
        return self.result


class Pipeline:
    """One ``enhance_many`` run. Built by :class:`viesus.Viesus`; not public on its own."""

    def __init__(
        self,
        client: PipelineClient,
        options: EnhancedImageInput,
        out_dir: Path,
        *,
        journal: Journal | None,
        overwrite: bool,
        max_credits: int | None,
        timeout: float | None,
    ) -> None:
        self.client = client
        self.options = options
        self.out_dir = out_dir
        self.journal = journal
        self.overwrite = overwrite
        self.max_credits = max_credits
        self.timeout = timeout
        self.cost = estimate_credits(options)

    async def run(self, sources: Sequence[str | Path]) -> AsyncGenerator[EnhanceResult, None]:
        items = [self._item(s) for s in sources]
        planned: dict[Path, Item] = {}
        unique: dict[JournalKey | str, Item] = {}
        work: list[Item] = []
        for item in items:
            refused = await asyncio.to_thread(self._prepare, item, planned)
            if refused is not None:
                yield refused
                continue
            identity: JournalKey | str = item.key if item.key is not None else item.source
            first = unique.get(identity)
            if first is not None:  # the same input and options twice: one job serves both
                first.waiters.append(item)
                continue
            unique[identity] = item
            skipped = self._resume(item)
            if skipped is not None:
                yield skipped
                continue
            work.append(item)

        to_create = [i for i in work if i.job_id is None]
        check_budget(
            self.cost * len(to_create),
            self.max_credits,
            await self.client.remaining_credits() if to_create else None,
        )

        # Waves: the first jobs are queued at the service while later files still upload,
        # and a batch of 10,000 photos starts yielding results long before its last upload.
        queue: asyncio.Queue[list[EnhanceResult] | BaseException | None] = asyncio.Queue()
        completions: set[asyncio.Task[Item]] = set()
        producer = asyncio.create_task(self._produce(work, queue, completions))
        try:
            while (entry := await queue.get()) is not None:
                if isinstance(entry, BaseException):
                    raise entry
                for result in entry:
                    yield result
        finally:
            # An abandoned batch stops its work here, before the caller closes the journal.
            producer.cancel()
            for task in completions:
                task.cancel()
            await asyncio.gather(producer, *completions, return_exceptions=True)

    async def _produce(
        self,
        work: list[Item],
        queue: asyncio.Queue[list[EnhanceResult] | BaseException | None],
        completions: set[asyncio.Task[Item]],
    ) -> None:
        """Upload, reconcile and create wave by wave; each created job gets a completion task."""
        gate = asyncio.Semaphore(self.client.download_concurrency)

        def deliver(task: asyncio.Task[Item]) -> None:
            if not task.cancelled() and task.exception() is None:
                queue.put_nowait(_emit(task.result()))

        try:
            wave = max(1, self.client.batch.value * WAVE_BATCHES)
            for start in range(0, len(work), wave):
                chunk = work[start : start + wave]
                for item in await self._upload([i for i in chunk if i.upload_id is None]):
                    queue.put_nowait(_emit(item))
                live = [i for i in chunk if i.result is None]
                for item in await self._reconcile([i for i in live if i.reconcile]):
                    queue.put_nowait(_emit(item))
                creatable = [i for i in live if i.job_id is None and i.result is None]
                for item in await self._create(creatable):
                    queue.put_nowait(_emit(item))
                for item in live:
                    if item.job_id is not None and item.result is None:
                        task = asyncio.create_task(self._complete(item, gate))
                        task.add_done_callback(deliver)
                        completions.add(task)
            await asyncio.gather(*completions)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # surfaced to the consumer, which re-raises it
            queue.put_nowait(exc)
        finally:
            queue.put_nowait(None)

    # --- 1. checks -----------------------------------------------------------------------
    def _item(self, source: str | Path) -> Item:
        if is_url(source):
            return Item(source=str(source), shown=redact_url(str(source)), path=None)
        return Item(source=str(source), shown=str(source), path=Path(source))

    def _prepare(self, item: Item, planned: dict[Path, Item]) -> EnhanceResult | None:
        """Header, limits, output name, journal key. Runs in a thread (file reads, hashing)."""
        try:
            if item.path is not None:
                item.header = read_image_header(item.path)
                check_limits(item.shown, item.header, self.options)
                extension = item.header.extension
            else:
                extension = result_extension(item.source.split("?", 1)[0], "jpg")
            item.dest = output_path(item.source, self.out_dir, extension)
            other = planned.get(item.dest)
            if other is not None and other.source != item.source:
                raise InvalidInput(
                    item.shown,
                    f"its output name {item.dest.name} is also the output of {other.shown}; "
                    "rename one of them or enhance them into different folders",
                )
            planned[item.dest] = item
            if self.journal is not None:
                input_hash = (
                    hash_file(item.path) if item.path is not None else hash_url(item.source)
                )
                item.key = JournalKey(input_hash, hash_params(self.options))
            if not self.overwrite and item.dest.exists() and not self._finished_in_journal(item):
                raise InvalidInput(
                    item.shown,
                    f"the output {item.dest} exists; pass overwrite=True "
                    "or choose another output folder",
                )
        except (InvalidInput, LimitExceeded) as exc:
            return item.fail(exc)
        return None

    def _finished_in_journal(self, item: Item) -> bool:
        row = self.journal.get(item.key) if self.journal and item.key else None
        return row is not None and row.state == "finished"

    # --- 2. journal ----------------------------------------------------------------------
    def _resume(self, item: Item) -> EnhanceResult | None:
        if self.journal is None or item.key is None:
            return None
        row = self.journal.get(item.key)
        if row is None:
            return None
        if row.state == "finished" and row.output_path and Path(row.output_path).exists():
            item.result = EnhanceResult(
                source=item.source,
                status="skipped",
                output_path=Path(row.output_path),
                job_id=row.job_id,
                upload_id=row.upload_id,
                credits=0,
            )
            return item.result
        if row.state == "failed":
            # Try again on a fresh (free) upload: the old one holds the failed job, and
            # reconciliation relies on "any job on this item's upload is this attempt's".
            return None
        item.upload_id = row.upload_id
        if row.state in ("created", "finished") and row.job_id:
            # Re-attach (a finished one whose file vanished is downloaded again).
            item.job_id = row.job_id
        elif row.state == "intent":
            item.reconcile = True
        return None

    # --- 4. uploads, reconciliation, creates ----------------------------------------------
    async def _upload(self, items: list[Item]) -> list[Item]:
        failed: list[Item] = []
        urls = [i for i in items if i.path is None]
        files = [i for i in items if i.path is not None]
        policy = self.client.retry_policy
        url_results = await upload_urls(
            self.client.api, [i.source for i in urls], self.client.batch, policy
        )
        file_results = await upload_files(
            self.client.api,
            self.client.http,
            [
                LocalFile(i.path, i.header.mimetype, i.path.stat().st_size)
                for i in files
                if i.path is not None and i.header is not None
            ],
            self.client.batch,
            policy,
            self.client.upload_concurrency,
        )
        for item, result in zip(urls + files, url_results + file_results, strict=True):
            if result.error is not None or result.upload_id is None:
                item.fail(result.error or ServerError(f"{item.shown}: upload failed"))
                failed.append(item)
                continue
            item.upload_id = result.upload_id
            if self.journal is not None and item.key is not None:
                self.journal.record_upload(item.key, item.source, result.upload_id)
            upload = result.upload
            if item.path is None and upload is not None and upload.width and upload.height:
                header = ImageHeader(
                    upload.mimetype or "",
                    upload.mimetype or "",
                    upload.extension or "",
                    upload.width,
                    upload.height,
                )
                try:
                    check_limits(item.shown, header, self.options)
                except LimitExceeded as exc:
                    failed.append(item)
                    item.fail(exc)
        return failed

    async def _reconcile(self, items: list[Item]) -> list[Item]:
        """Adopt the job an interrupted create may have made; if there is none, a create may
        follow. Each item has its own upload, so any job found there is this item's."""
        failed: list[Item] = []
        if not items:
            return failed
        outcomes = await run_batches(
            self.client.api,
            [i.upload_id or "" for i in items],
            upload_jobs,
            operation_name="ReconcileUploads",
            mutation=False,
            size=self.client.batch,
        )
        for item, outcome in zip(items, outcomes, strict=True):
            item.reconcile = False
            if outcome.error is not None or outcome.data is None:
                # Unknown state: never risk a second charged job; a rerun reconciles again.
                failed.append(item)
                item.fail(outcome.error or ServerError(f"{item.shown}: upload gone"))
                continue
            jobs = outcome.data.get("EnhancedImages") or []
            if jobs:
                job = Job.from_data(jobs[0])
                self.client.adopted += 1
                log.info("adopted job %s found on upload %s", job.id, item.upload_id)
                self._created(item, job)
        return failed

    async def _create(self, items: list[Item]) -> list[Item]:
        failed: list[Item] = []
        pending = [i for i in items if i.result is None]
        attempt = 0
        while pending and attempt < CREATE_ATTEMPTS:
            attempt += 1
            for item in pending:
                if self.journal is not None and item.key is not None:
                    self.journal.record_intent(item.key)
            outcomes = await run_batches(
                self.client.api,
                pending,
                lambda i: create_job(i.upload_id or "", self.options),
                operation_name="CreateEnhancedImages",
                mutation=True,
                size=self.client.batch,
            )
            lost: list[Item] = []
            for item, outcome in zip(pending, outcomes, strict=True):
                if outcome.data is not None:
                    self._created(item, Job.from_data(outcome.data))
                elif outcome.ambiguous:
                    lost.append(item)
                else:
                    error = outcome.error or ServerError("create failed")
                    if self.journal is not None and item.key is not None:
                        code = getattr(error, "code", None) or type(error).__name__
                        self.journal.record_failed(item.key, code)
                    failed.append(item)
                    item.fail(error)
            failed.extend(await self._reconcile(lost))
            # Not found on the upload: the create never ran, so asking again is safe.
            pending = [i for i in lost if i.job_id is None and i.result is None]
        for item in pending:
            error = ServerError(f"{item.shown}: the create kept failing; rerun to resume")
            failed.append(item)
            item.fail(error)
        return failed

    def _created(self, item: Item, job: Job) -> None:
        item.job_id = job.id
        if self.journal is not None and item.key is not None:
            self.journal.record_job(item.key, job.id)

    # --- 5. waits and downloads --------------------------------------------------------------
    async def _complete(self, item: Item, gate: asyncio.Semaphore) -> Item:
        assert item.job_id is not None
        try:
            job = await self.client.wait_job(item.job_id, self.timeout)
            if not job.finished or not job.full_url:
                raise EnhancementFailed(job.id, job.error_code)
            assert item.dest is not None
            dest = item.dest.with_suffix("." + result_extension(job.filename, item.dest.suffix))
            async with gate:
                written = await download(
                    self.client.http,
                    job.full_url,
                    dest,
                    policy=self.client.retry_policy,
                    overwrite=self.overwrite,
                )
        except ViesusError as exc:
            if (
                self.journal is not None
                and item.key is not None
                and isinstance(exc, EnhancementFailed)
            ):
                self.journal.record_failed(item.key, exc.error_code or "ERROR")
            item.fail(exc)
            return item
        if self.journal is not None and item.key is not None:
            self.journal.record_finished(item.key, written, self.cost)
        item.result = EnhanceResult(
            source=item.source,
            status="finished",
            output_path=written,
            job_id=item.job_id,
            upload_id=item.upload_id,
            credits=self.cost,
        )
        return item


def _emit(item: Item) -> list[EnhanceResult]:
    """The item's result, then one for each duplicate of it in the batch (no extra credits)."""
    if item.result is None:
        return []
    twins = [
        EnhanceResult(
            source=twin.source,
            status=item.result.status,
            output_path=item.result.output_path,
            job_id=item.result.job_id,
            upload_id=item.result.upload_id,
            credits=0,
            error=item.result.error,
        )
        for twin in item.waiters
    ]
    return [item.result, *twins]


class PipelineClient(Protocol):
    """What a pipeline needs from the client (implemented by :class:`viesus.Viesus`)."""

    api: ViesusApiClient
    http: httpx.AsyncClient
    batch: BatchSize
    retry_policy: RetryPolicy
    upload_concurrency: int
    download_concurrency: int
    adopted: int

    async def remaining_credits(self) -> int: ...

    async def wait_job(self, job_id: str, timeout: float | None) -> Job: ...
