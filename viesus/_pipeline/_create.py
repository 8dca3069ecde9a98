"""Creates, the one step that costs: intents made durable first, batches sent, and an
ambiguous answer reconciled by reading the item's upload, never by sending again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import ValidationError

from viesus._aliased_requests import Outcome, run_batches
from viesus._errors import JournalError, ServerError
from viesus._jobs import ERROR, Job
from viesus._journal.store import ItemKey
from viesus._pipeline import _tuning as tuning
from viesus._pipeline._state import CREATABLE, BatchState, Item, reason, taken_over
from viesus._selections import create_job, upload_jobs
from viesus_client.base_operation import GraphQLField
from viesus_client.list_upload_enhanced_images import ListUploadEnhancedImagesUpload

log = logging.getLogger("viesus._pipeline")

T = TypeVar("T")


async def _send(
    batch: BatchState,
    items: Sequence[T],
    build: Callable[[T], GraphQLField],
    operation_name: str,
    *,
    mutation: bool,
) -> list[Outcome]:
    return await run_batches(
        batch.client.api,
        items,
        build,
        operation_name=operation_name,
        mutation=mutation,
        size=batch.client.batch,
        concurrency=tuning.CREATE_CONCURRENCY,
    )


async def reconcile(batch: BatchState, items: list[Item]) -> None:
    """Adopt the job a create may have made, or prove there is none.

    Each item has its own upload, so any job found there is this item's. "No job" is
    believed only after :data:`~viesus._pipeline._tuning.RECONCILE_READS` reads spaced by the
    retry backoff (an immediate read after a lost write may not see it yet); an answer that is
    missing or does not parse with the generated model is "unknown", never "no job".
    """
    pending = [i for i in items if i.result is None]
    reasons: dict[ItemKey, str | None] = {}
    policy = batch.client.retry_policy
    for read in range(tuning.RECONCILE_READS):
        if not pending:
            break
        if read > 0:
            await asyncio.sleep(policy.backoff(read))
        uploads = [batch.upload_id(i) for i in pending]
        outcomes = await _send(batch, uploads, upload_jobs, "ReconcileUploads", mutation=False)
        still: list[Item] = []
        for item, outcome in zip(pending, outcomes, strict=True):
            jobs, why = jobs_on_upload(outcome)
            if jobs:
                _adopt(batch, item, jobs)
                continue
            reasons[item.key] = why
            still.append(item)
        pending = still
    for item in pending:
        why = reasons.get(item.key)
        if why is None:
            batch.book.no_job(item.key)
        else:
            batch.book.unknown(item.key, why)
    await batch.book.flush()


def _adopt(batch: BatchState, item: Item, jobs: list[Job]) -> None:
    live = [j for j in jobs if j.status != ERROR]
    if len(live) > 1:
        log.warning("upload of %s holds %d live jobs; adopting the first", item.shown, len(live))
    job = live[0] if live else jobs[-1]
    batch.client.adopted += 1
    log.info("adopted job %s found on the upload of %s", job.id, item.shown)
    batch.book.created(item.key, job.id)


async def create(batch: BatchState, items: list[Item]) -> None:
    """Create a job for each item, up to :data:`~viesus._pipeline._tuning.CREATE_ATTEMPTS`
    times while the service proves the last attempt made nothing."""
    pending = [i for i in items if i.result is None]
    attempt = 0
    while pending and attempt < tuning.CREATE_ATTEMPTS:
        attempt += 1
        cleared = await _clear_to_send(batch, pending)
        if cleared is None:
            return
        outcomes = await _send(
            batch,
            cleared,
            lambda i: create_job(batch.upload_id(i), batch.options),
            "CreateEnhancedImages",
            mutation=True,
        )
        lost: list[Item] = []
        for item, outcome in zip(cleared, outcomes, strict=True):
            job = _job_or_none(outcome.data)
            if job is not None:
                batch.book.created(item.key, job.id)
            elif outcome.ambiguous or outcome.data is not None:
                lost.append(item)  # it may have run: ask the server, never resend blindly
            else:
                error = outcome.error or ServerError("create failed")
                batch.book.create_refused(item.key, reason(error))
                batch.fail(item, error)
        await batch.book.flush()
        await reconcile(batch, lost)
        # Proven absent on the upload: the create never ran, so asking again is safe.
        pending = [i for i in lost if batch.state(i) in CREATABLE]
    for item in pending:
        batch.fail(
            item,
            ServerError(f"{item.shown}: the create kept failing (nothing was charged); rerun"),
        )


async def _clear_to_send(batch: BatchState, pending: list[Item]) -> list[Item] | None:
    """The items whose create may be sent now, their intents durable; ``None`` (every item
    failed) when the journal cannot be written. An item another journal writer took is left
    to it."""
    pending = _left_to_others(batch, pending, batch.book.stale)  # an earlier write refused
    for item in pending:
        batch.book.intend_create(item.key)
    try:
        stale = await batch.book.flush()  # durable BEFORE any create is sent
        pending = _left_to_others(batch, pending, stale)
        if batch.before_create is not None and pending:
            refused = await asyncio.to_thread(batch.before_create, [i.key for i in pending])
            pending = _left_to_others(batch, pending, refused)
    except JournalError as exc:
        for item in pending:
            batch.fail(item, exc)
        return None
    return pending


def _left_to_others(batch: BatchState, items: list[Item], taken: set[ItemKey]) -> list[Item]:
    """``items`` but those whose key another journal writer has taken (each fails here)."""
    for item in [i for i in items if i.key in taken]:
        batch.fail(item, taken_over(item))
    return [i for i in items if i.key not in taken]


def jobs_on_upload(outcome: Outcome) -> tuple[list[Job], str | None]:
    """The jobs an upload holds, parsed with the generated model, and why not if unknown.

    ``([], None)`` only for a well-formed answer listing no job; a missing upload, an error or
    an answer the model cannot read gives ``([], reason)``: unknown, never "no job".
    """
    if outcome.error is not None:
        return [], reason(outcome.error)
    if outcome.data is None:
        return [], "the upload is unknown to the service"
    try:
        upload = ListUploadEnhancedImagesUpload.model_validate(outcome.data)
    except ValidationError:
        # A status this client does not know must not hide a job: read the list leniently
        # under the generated model's own field name, never defaulting to "empty".
        name = ListUploadEnhancedImagesUpload.model_fields["enhanced_images"].alias or ""
        raw = outcome.data.get(name) if isinstance(outcome.data, dict) else None
        if not isinstance(raw, list):
            return [], "the service's answer about the upload's jobs is unreadable"
        try:
            return [Job.from_data(entry) for entry in raw], None
        except (ValidationError, TypeError):
            return [], "the service's answer about the upload's jobs is unreadable"
    return [Job.from_fragment(job) for job in upload.enhanced_images], None


def _job_or_none(data: object) -> Job | None:
    if data is None:
        return None
    try:
        return Job.from_data(data)
    except (ValidationError, TypeError):
        return None
