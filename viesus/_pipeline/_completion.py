"""Completion: each job watched until final, its output downloaded to a ``.part`` file,
journalled (name and sha256), then placed; any failure becomes that item's result."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from viesus._downloads import choose_target, download_part, part_path, place
from viesus._errors import (
    EnhancementFailed,
    GraphQLRequestError,
    JournalError,
    ServerError,
    ViesusError,
)
from viesus._jobs import ERROR, Job
from viesus._journal.keys import hash_file
from viesus._journal.states import ItemState
from viesus._output_names import result_extension, spelled_like
from viesus._pipeline import _tuning as tuning
from viesus._pipeline._state import (
    WITH_JOB,
    BatchState,
    Item,
    expected_receipt,
    reason,
    taken_over,
)
from viesus._receipts import write_receipt
from viesus._retries import RetryPolicy, retrying

log = logging.getLogger("viesus._pipeline")


async def follow(batch: BatchState, items: list[Item], group: asyncio.TaskGroup) -> None:
    """Wait for the items' jobs and complete each in a task of its own once it is final;
    an unsettled item gets its result.

    A job waits as a record in the client's poller, not as a task: a deep queue has
    thousands waiting at once, and a task each held ~4 KB (measured). This one task
    holds the watches of its items and ends them if the batch is abandoned."""
    left = 0
    all_final = asyncio.Event()
    stops: list[Callable[[], None]] = []

    def complete_in_task(item: Item, outcome: Job | BaseException) -> None:
        work = complete(batch, item, outcome)
        try:
            group.create_task(work)
        except RuntimeError:  # the batch is being torn down: a rerun reads the job
            work.close()

    def watcher(item: Item) -> Callable[[Job | BaseException], None]:
        def on_final(outcome: Job | BaseException) -> None:
            nonlocal left
            left -= 1
            if not left:
                all_final.set()
            complete_in_task(item, outcome)

        return on_final

    for item in items:
        if item.result is None and batch.state(item) in WITH_JOB:
            record = batch.book.get(item.key)
            assert record is not None
            assert record.job_id is not None
            try:
                stop = batch.client.watch_job(record.job_id, watcher(item), batch.timeout)
            except ViesusError as exc:  # the client closed meanwhile
                complete_in_task(item, exc)
                continue
            left += 1
            stops.append(stop)
        elif item.result is None:
            _report_unsettled(batch, item)
    if not left:
        return
    try:
        await all_final.wait()
    finally:
        for stop in stops:  # no-ops for the watches that ended
            stop()


def _report_unsettled(batch: BatchState, item: Item) -> None:
    record = batch.book.get(item.key)
    if record is not None and record.state is ItemState.UNKNOWN:
        batch.fail(
            item,
            ServerError(
                f"{item.shown}: a create may have been charged and the service could not "
                f"say ({record.reason}); not created again, rerun with the journal to "
                "reconcile"
            ),
        )


async def complete(batch: BatchState, item: Item, outcome: Job | BaseException) -> None:
    """Wait for the item's job, download its output, journal it. Never raises for the item:
    every outcome becomes its result (the batch goes on)."""
    if batch.buckets is not None:  # the pace that presigned URLs' lifetimes follow
        batch.buckets.finished(item.source)
    try:
        await _finish_job(batch, item, outcome)
    except (ViesusError, OSError) as exc:
        error = exc if isinstance(exc, ViesusError) else _save_error(batch, item, exc)
        if batch.state(item) is ItemState.FINISHED_REMOTE:
            batch.book.save_failed(item.key, reason(error))
            with contextlib.suppress(JournalError):
                await batch.book.flush()
        batch.fail(item, error)


async def _finish_job(batch: BatchState, item: Item, outcome: Job | BaseException) -> None:
    record = batch.book.get(item.key)
    assert record is not None
    assert record.job_id is not None
    assert item.dest is not None
    job = await _read_job(batch, record.job_id, outcome)
    if job is None:
        batch.book.job_lost(item.key, "the service no longer knows the job")
        await batch.book.flush()
        batch.fail(
            item,
            ServerError(
                f"{item.shown}: job {record.job_id} is unknown to the service (expired, or "
                "made on another endpoint); it is not created again automatically"
            ),
        )
        return
    if job.status == ERROR:
        batch.book.job_failed(item.key, job.error_code or "ERROR")
        await batch.book.flush()
        batch.fail(item, EnhancementFailed(job.id, job.error_code))
        return
    if record.state is ItemState.CREATED:
        batch.book.finished_remote(item.key)
    job = await _with_download_url(batch, job)
    if job.full_url is None:
        raise ServerError(
            f"{item.shown}: job {job.id} finished but the service gave no download URL; "
            "rerun with the journal to download it (it is paid for)"
        )
    target: Path | str
    if batch.sink is not None:
        target = await _save_to_bucket(batch, item, job, job.full_url)
    else:
        target = await _save(batch, item, job, job.full_url)
        await asyncio.to_thread(_leave_receipt, batch, item, target, job.id, record.upload_id)
    # Not flushed on its own: it rides with the next batch step. A crash before that
    # leaves output_path + sha256 in the journal, and a resume adopts the placed file.
    cost = batch.cost_of(item)
    batch.book.downloaded(item.key, str(target), cost)
    batch.settle(item, "finished", target, job.id, record.upload_id, cost)


def _leave_receipt(
    batch: BatchState, item: Item, target: Path, job_id: str, upload_id: str | None
) -> None:
    """Beside the placed output: what made it (a rerun without a journal finds it done)."""
    if item.path is not None and item.content_hash is None:
        item.content_hash = hash_file(item.path)
    record = batch.book.get(item.key)
    sha256 = record.output_sha256 if record is not None else None
    if sha256 is not None:  # journalled (or kept in memory) before the file was placed
        receipt = expected_receipt(batch, item, job_id, sha256)
        write_receipt(target, replace(receipt, upload_id=upload_id))


async def _save(batch: BatchState, item: Item, job: Job, url: str) -> Path:
    """Download the job's output to a ``.part`` file, journal its name and sha256, place it."""
    assert item.dest is not None
    extension = result_extension(job.filename, item.dest.suffix)
    dest = item.dest.with_suffix("." + spelled_like(extension, item.dest.suffix))
    part = part_path(item.dest, job.id)
    async with batch.download_gate:
        sha256 = await download_part(batch.client.http, url, part, policy=batch.client.retry_policy)
    while True:
        target = await asyncio.to_thread(choose_target, dest, batch.overwrite)
        batch.book.output_chosen(item.key, str(target), sha256)
        await batch.book.flush()  # the name and hash are known before the file appears
        if item.key in batch.book.stale:  # a shared journal gave the item to another worker
            await asyncio.to_thread(part.unlink, missing_ok=True)
            raise taken_over(item)
        if await asyncio.to_thread(place, part, target, batch.overwrite):
            return target


async def _save_to_bucket(batch: BatchState, item: Item, job: Job, url: str) -> str:
    """Stream the job's output into the destination bucket; the object's ``s3://`` URL.

    Its URL is journalled before the write: a rerun after a crash mid-write writes the same
    key again (the put is atomic, so the object is whole or absent), never a sibling."""
    sink = batch.sink
    assert sink is not None
    assert item.dest is not None
    extension = result_extension(job.filename, item.dest.suffix)
    dest = item.dest.with_suffix("." + spelled_like(extension, item.dest.suffix))
    record = batch.book.get(item.key)
    own = record.output_path if record is not None else None
    target = sink.free_name(dest, own, batch.overwrite)
    chosen = sink.url_of(target)
    batch.book.output_chosen(item.key, chosen, "")
    await batch.book.flush()
    if item.key in batch.book.stale:  # a shared journal gave the item to another worker
        raise taken_over(item)
    async with batch.download_gate:
        sha256 = await sink.save(batch.client.http, url, target)
    batch.book.output_chosen(item.key, chosen, sha256)
    return chosen


async def _read_job(batch: BatchState, job_id: str, outcome: Job | BaseException) -> Job | None:
    """The job once FINISHED or ERROR, from the watch's ``outcome``; ``None`` if the
    service still does not know it after :data:`~viesus._pipeline._tuning.LOST_READS`
    backed-off reads."""

    async def attempt() -> Job:
        return await batch.client.wait_job(job_id, batch.timeout)

    policy = batch.client.retry_policy
    try:
        if isinstance(outcome, Job):
            return outcome
        if not _not_found(outcome) or tuning.LOST_READS < 2:
            raise outcome
        log.info("job %s is unknown to the service; reading it again", job_id)
        await asyncio.sleep(policy.backoff(0))
        return await retrying(
            RetryPolicy(tuning.LOST_READS - 1, policy.base, policy.cap, policy.max_retry_after),
            attempt,
            retry_on=_not_found,
            what=f"read of job {job_id}",
            wait=lambda _, retry: policy.backoff(retry + 1),
        )
    except GraphQLRequestError as exc:
        if _not_found(exc):
            return None
        raise


async def _with_download_url(batch: BatchState, job: Job) -> Job:
    """A FINISHED job read again (backed off) while its answer carries no ``fullUrl``."""
    policy = batch.client.retry_policy
    for retry in range(policy.max_attempts - 1):
        if job.full_url:
            return job
        await asyncio.sleep(policy.backoff(retry))
        job = await batch.client.wait_job(job.id, batch.timeout)
    return job


def _save_error(batch: BatchState, item: Item, exc: OSError) -> ViesusError:
    folder = item.dest.parent if item.dest is not None else batch.out_dir
    return ViesusError(
        f"{item.shown}: the enhanced image is paid for but could not be saved in {folder} "
        f"({exc.strerror or type(exc).__name__}); fix that and rerun with the same journal "
        "to download it without paying again"
    )


def _not_found(exc: BaseException) -> bool:
    return isinstance(exc, GraphQLRequestError) and exc.code == "NOT_FOUND"
