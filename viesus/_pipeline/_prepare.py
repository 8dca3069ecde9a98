"""Check before spending, and pick up where the journal left off: each source's header,
limits, output name and content hash; its journal record resumed, or its content's job
adopted; and the plan's row for each item."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

from viesus._buckets.locations import etag_hash, is_bucket
from viesus._downloads import remove_parts, sha256_of
from viesus._downscale import fitted
from viesus._errors import InvalidInput, LimitExceeded, OutputExists, ServerError, ViesusError
from viesus._image_headers import read_image_header
from viesus._journal.keys import hash_file, source_id
from viesus._journal.states import ItemState
from viesus._journal.store import ItemKey, ItemRecord
from viesus._output_names import collision_key, disambiguated, mirrored_output, result_extension
from viesus._pdf import PDF_MIMETYPE, combination_key, is_pdf_url
from viesus._pipeline import _tuning as tuning
from viesus._pipeline._state import (
    CREATABLE,
    RESTARTABLE,
    UNSETTLED_CREATE,
    WILL_CREATE,
    BatchState,
    Item,
    expected_receipt,
)
from viesus._plans import PlannedItem
from viesus._preflight import check_limits
from viesus._receipts import vouched
from viesus._redact import redact_url
from viesus._results import EnhanceResult
from viesus._sources import is_url

log = logging.getLogger("viesus._pipeline")


def new_item(batch: BatchState, source: str | Path) -> Item:
    key = ItemKey(source_id(source), batch.params_hash)
    if is_bucket(source):
        return Item(source=str(source), shown=str(source), path=None, key=key, bucket=True)
    if is_url(source):
        return Item(source=str(source), shown=redact_url(str(source)), path=None, key=key)
    return Item(source=str(source), shown=str(source), path=Path(source), key=key)


async def check(
    batch: BatchState, items: list[Item], checked: asyncio.Queue[list[Item] | None]
) -> None:
    """Check the sources chunk by chunk (one worker-thread trip each: headers, sizes,
    hashes, whether outputs exist), pick each up where the journal left it, and hand the
    chunk's work on: the first wave uploads while later files are still being read."""
    planned: dict[str, Item] = {}
    for start in range(0, len(items), tuning.PREPARE_CHUNK):
        chunk = items[start : start + tuning.PREPARE_CHUNK]
        refusals = await asyncio.to_thread(prepare_chunk, batch, chunk, planned)
        work: list[Item] = []
        for item, refused in zip(chunk, refusals, strict=True):
            if refused is not None:
                batch.fail(item, refused)
            elif await resume(batch, item) is None:
                work.append(item)
        await batch.book.flush()  # planned before any of it is uploaded
        await checked.put(work)
    await checked.put(None)


def prepare_chunk(
    batch: BatchState, items: list[Item], planned: dict[str, Item]
) -> list[ViesusError | None]:
    """:func:`prepare` for a chunk in one worker-thread trip: a trip per item and step cost
    ~0.5 ms before the first upload."""
    return [prepare(batch, item, planned) for item in items]


def prepare(batch: BatchState, item: Item, planned: dict[str, Item]) -> ViesusError | None:
    """Header, limits, output name, content hash; why the item is refused, if it is.
    Runs in a worker thread (file reads, hashing): it delivers nothing itself."""
    try:
        if item.path is not None:
            item.header = read_image_header(item.path)
            item.pdf = item.header.mimetype == PDF_MIMETYPE
            if batch.downscale:
                item.downscale_to = fitted(item.shown, item.header, batch.options)[1]
            else:
                check_limits(item.shown, item.header, batch.options)
            extension = item.header.extension
            item.size = item.path.stat().st_size
            if batch.journal is not None:
                item.content_hash = hash_file(item.path)
        elif item.bucket:
            extension = _bucket_object(batch, item)
        else:
            item.pdf = is_pdf_url(item.source)
            extension = "pdf" if item.pdf else result_extension(item.source.split("?", 1)[0], "jpg")
        if item.pdf:
            combination_key(batch.options)  # options a PDF analysis cannot price: refused
        item.dest = _destination(batch, item, extension, planned)
        sink = batch.sink
        exists = sink.exists(item.dest) if sink is not None else item.dest.exists()
        item.dest_exists = not batch.overwrite and exists
        if item.dest_exists and sink is None:  # an earlier run's output, or in the way
            if item.path is not None and item.content_hash is None:
                item.content_hash = hash_file(item.path)
            item.receipt = vouched(item.dest, expected_receipt(batch, item))
    except (InvalidInput, LimitExceeded) as exc:
        return exc
    except OSError as exc:
        return InvalidInput(item.shown, f"cannot be read ({exc.strerror})")
    return None


def _bucket_object(batch: BatchState, item: Item) -> str:
    """A bucket source's size and content hash (its ETag) from the listing; its extension."""
    assert batch.buckets is not None
    found = batch.buckets.objects.get(item.source)
    if found is None:
        raise InvalidInput(item.shown, "no such object in the bucket")
    item.size = found.size
    item.content_hash = etag_hash(found.etag)
    item.pdf = is_pdf_url(item.source)
    return "pdf" if item.pdf else result_extension(item.source, "jpg")


def _destination(batch: BatchState, item: Item, extension: str, planned: dict[str, Item]) -> Path:
    """The item's output at its mirrored path; a source whose name another one in the
    batch already takes (two URLs ``…/photo.jpg``; names equal but for case) gets a
    short tag of its own."""
    roots = batch.buckets.roots if batch.buckets is not None else None
    dest = mirrored_output(item.source, batch.out_dir, batch.root, extension, roots)
    other = planned.get(collision_key(dest))
    if other is not None and other.key != item.key:
        dest = disambiguated(dest, item.key.source_id)
    planned[collision_key(dest)] = item
    return dest


async def resume(batch: BatchState, item: Item) -> EnhanceResult | None:
    """Pick up the item where the journal left it; a result if nothing is left to do."""
    record = batch.book.get(item.key)
    assert item.dest is not None
    if record is None and item.content_hash is not None:
        record = await _adopt_known_content(batch, item)
    if record is not None and batch.journal is not None and not batch.dry and not batch.sink:
        await asyncio.to_thread(remove_parts, item.dest)
    changed = record is not None and _changed(record.content_hash, item.content_hash)
    if record is not None and changed and record.state not in RESTARTABLE:
        return batch.fail(
            item,
            InvalidInput(
                item.shown,
                f"changed since the journal recorded it, and job {record.job_id or '?'} "
                f"for its earlier content is {record.state}: restore the file, or use "
                "another journal",
            ),
        )
    if (
        record is None
        or changed
        or record.state in (ItemState.PLANNED, *CREATABLE, ItemState.FAILED)
    ):
        # Everything from here creates a job: never over an existing file by accident.
        if not batch.overwrite and item.dest_exists and item.receipt is not None:
            receipt = item.receipt  # written by an earlier run: done, nothing to pay
            return batch.settle(item, "skipped", item.dest, receipt.job_id, receipt.upload_id, 0)
        if not batch.overwrite and item.dest_exists:
            return batch.fail(item, OutputExists(item.shown, item.dest))
        if record is None or changed or record.state is ItemState.FAILED:
            # New, a new image under a known name, or a free failure tried again on a
            # fresh upload (the old upload holds the failed job).
            batch.book.plan(item.key, item.shown, item.content_hash)
        return None
    return await _resume_recorded(batch, item, record)


async def _resume_recorded(
    batch: BatchState, item: Item, record: ItemRecord
) -> EnhanceResult | None:
    """:func:`resume` for an item whose record is past its create: done, adopted, or lost."""
    if record.state is ItemState.DOWNLOADED:
        output = record.output_path
        kept = output is not None and await _output_exists(batch, output)
        if kept and output is not None:
            shown = output if batch.sink is not None else Path(output)
            return batch.settle(item, "skipped", shown, record.job_id, record.upload_id, 0)
        batch.book.output_missing(item.key)
        return None
    if record.state is ItemState.FINISHED_REMOTE and record.output_path and record.output_sha256:
        found = await asyncio.to_thread(sha256_of, Path(record.output_path))
        if found == record.output_sha256:  # placed before a crash, not yet journalled
            cost = batch.cost_of(item)
            batch.book.downloaded(item.key, record.output_path, cost)
            log.info("adopted the complete output of job %s", record.job_id)
            return batch.settle(
                item, "finished", Path(record.output_path), record.job_id, record.upload_id, cost
            )
    if record.state is ItemState.LOST:
        return batch.fail(
            item,
            ServerError(
                f"{item.shown}: job {record.job_id} is lost ({record.reason}); it is not "
                "created again automatically"
            ),
        )
    return None


async def _adopt_known_content(batch: BatchState, item: Item) -> ItemRecord | None:
    """The journal's record of the same content with the same options under a source that
    is not in this batch (its folder was moved or renamed), taken over by ``item``: its
    job was created (maybe paid) and is never created again. Only records that may have
    been charged are taken; the others cost nothing to start over."""
    if batch.known_content is None:
        batch.known_content = await asyncio.to_thread(_index_known_content, batch)
    known = batch.known_content.get(item.content_hash or "")
    if known is None:
        return None
    assert item.dest is not None
    found = None if batch.sink is not None else await asyncio.to_thread(sha256_of, item.dest)
    output = str(item.dest) if found and found == known.output_sha256 else None
    log.info("%s: same content as %s, adopting its job", item.shown, known.source)
    return batch.book.adopt(item.key, item.shown, known, output)


def _index_known_content(batch: BatchState) -> dict[str, ItemRecord]:
    if batch.journal is None:
        return {}
    return {
        record.content_hash: record
        for record in batch.journal.records()
        if record.content_hash is not None
        and record.key.params_hash == batch.params_hash
        and record.key not in batch.batch_keys
        and record.state.maybe_charged
    }


def decision(batch: BatchState, item: Item) -> PlannedItem:
    """The plan's row for a checked item, from its result or its state."""
    header = item.header if not item.pdf else None
    record = batch.book.get(item.key)
    row = PlannedItem(
        item.source,
        "resume",
        item.dest,
        0,
        kind="pdf" if item.pdf else ("url" if item.path is None else "image"),
        width=header.width if header else None,
        height=header.height if header else None,
        size_bytes=item.size or None,
        job_id=record.job_id if record else None,
        downscale_to=item.downscale_to,
    )
    result = item.result
    if result is not None and result.status == "failed":
        reason = _cause(item, result.reason)
        return replace(row, action="refused", reason=reason, error=result.error)
    if result is not None:
        return replace(row, action="done", output_path=result.output_path)
    state = batch.state(item)
    if state not in WILL_CREATE:
        return row  # its job exists: waited for and downloaded
    priced = not item.pdf or (record is not None and record.credits is not None)
    return replace(
        row,
        action="reconcile" if state in UNSETTLED_CREATE else "create",
        credits=batch.cost_of(item) if priced else None,
    )


def _cause(item: Item, reason: str | None) -> str | None:
    """A refusal's reason without the source it names first (the plan shows it beside)."""
    if reason is not None and reason.startswith(item.shown + ": "):
        return reason[len(item.shown) + 2 :]
    return reason


async def _output_exists(batch: BatchState, output: str) -> bool:
    """A recorded output still there: a file, or (``s3://`` URL) an object in the sink."""
    sink = batch.sink
    if sink is not None:
        return sink.has(output)
    return await asyncio.to_thread(Path(output).exists)


def _changed(recorded: str | None, now: str | None) -> bool:
    return recorded is not None and now is not None and recorded != now
