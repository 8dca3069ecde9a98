"""``enhance_many``: many sources through upload -> create -> wait -> download, frugally.

Every item moves through the state machine of :mod:`viesus._journal.states` (which states the
never-pay-twice rule and is the only door to a create); this module decides *when* to move it.

Order of work, and why:
1. **Check before spending**: each file's header read (no decode) and the AI upscaling limits
   checked; the output name planned and checked for collisions. A URL source's size is known
   after its (free) upload, and is checked before its create.
2. **Journal** (optional, any :class:`viesus._journal.store.JournalStore`): bound to this endpoint
   and key; items keyed by source + options. Downloaded items are skipped, a complete output of a
   known job is adopted, known jobs are waited for, uploads reused, intents reconciled, leftover
   ``.part`` files removed. A file whose content changed is a new item (or refused while a job for
   its old content is unsettled).
3. **PDFs** (photobooks) are priced by the service's analysis: they are uploaded first (free),
   the upload journalled before the wait (a resume waits on the same upload, never uploads an
   analysed PDF again), their analyses awaited together (:func:`viesus._pdf.await_analyses`:
   one aliased query per tick, a failed analysis re-triggered once), and each estimate for the
   batch's options journalled (``analyzed``). A PDF then goes the way of an image: create,
   wait, download ``NAME_enhanced.pdf``.
4. **Budget**: the credits of everything that may still be created (images at the parameter
   table's price, PDFs at their analysed estimate) against ``max_credits`` and the account's
   remaining credits, before the first create. Nothing is spent otherwise. When the batch
   fits even if every source not yet checked is created at an image's price (no PDF by
   name), the waves start on the first checked chunk while later files are read (steps 1-2
   run chunk by chunk in a task of their own); a file that turns out to be a PDF is priced
   after the images and refused alone if it does not fit. Otherwise every check finishes
   first and the budget is checked on the exact cost.
5. **Waves**: uploads (batched, PUTs bounded; the first wave one batch, later ones a few),
   then, in a task of its own so the next wave's uploads go on, reconciliation and creates
   (batched K per request, batches in flight side by side: a hung request holds its own
   items only). Intents are journalled in one
   transaction before the creates are sent; an ambiguous create is reconciled by reading the
   item's upload (each item has its own upload, so any job there is that item's), with
   backed-off re-reads before concluding "no job".
6. **Completion** per job: the client's poller (one aliased query per tick for all jobs) says
   FINISHED or ERROR; a job the service does not know after a backed-off re-read is ``lost``.
   The result streams to a ``.part`` file (written off the loop), its name and sha256 are
   journalled, then it is placed. Any failure to save (disk full, folder is a file) fails that
   item with its reason; the job stays paid-for and a rerun downloads it without paying.
Results are yielded as items complete, exactly one per source; a failure is a result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import httpx
from pydantic import ValidationError

from viesus._batching import BatchSize, Outcome, run_batches
from viesus._downloads import (
    choose_target,
    download_part,
    part_path,
    place,
    remove_parts,
    sha256_of,
)
from viesus._downscale import FOLDER, fitted, write_downscaled
from viesus._errors import (
    BudgetExceeded,
    EnhancementFailed,
    GraphQLRequestError,
    InsufficientCredits,
    InvalidInput,
    JournalError,
    LimitExceeded,
    OutputExists,
    ServerError,
    ViesusError,
)
from viesus._jobs import ERROR, Job
from viesus._journal.keys import hash_file, hash_params, is_url, key_fingerprint, source_id
from viesus._journal.states import ItemBook, ItemState
from viesus._journal.store import ItemKey, ItemRecord, JournalStore, StoreIdentity
from viesus._output_names import (
    collision_key,
    common_root,
    disambiguated,
    mirrored_output,
    result_extension,
    spelled_like,
)
from viesus._pdf import PDF_MIMETYPE, PdfAnalysisFailed, await_analyses, combination_key, is_pdf_url
from viesus._plans import BatchPlan, PlannedItem
from viesus._polling import Poller
from viesus._preflight import (
    ImageHeader,
    check_budget,
    check_limits,
    estimate_credits,
    read_image_header,
)
from viesus._redact import redact_url
from viesus._results import EnhanceResult
from viesus._retries import RetryPolicy, retrying
from viesus._selections import create_job, upload_jobs
from viesus._uploads import LocalFile, upload_files, upload_urls
from viesus_client import ViesusApiClient
from viesus_client.input_types import EnhancedImageInput
from viesus_client.list_upload_enhanced_images import ListUploadEnhancedImagesUpload

log = logging.getLogger("viesus._pipeline")

CREATE_ATTEMPTS = 3
# Reads of an upload before "it has no job" is believed after a lost create answer.
RECONCILE_READS = 3
# Reads of a job the service says it does not know before the item is called lost.
LOST_READS = 3
# Items uploaded and created per wave, in batches: the first jobs start while later files upload.
# The first wave is one batch (the first create leaves after 50 uploads), the next ones two.
WAVE_BATCHES = 2
# Sources checked per trip to a worker thread; the waves may start after the first chunk.
PREPARE_CHUNK = 64
# Checked chunks waiting for the waves at most: the checks keep just ahead of the uploads
# instead of taking the CPU from the first ones.
CHECKED_AHEAD = 2
# Create (and reconcile) requests in flight at once within a wave.
CREATE_CONCURRENCY = 4

S = ItemState
_UNSETTLED_CREATE = frozenset({S.CREATE_INTENT, S.UNKNOWN})
_WITH_JOB = frozenset({S.CREATED, S.FINISHED_REMOTE})
# States whose next step is a create request (counted against the budget).
_WILL_CREATE = frozenset({S.PLANNED, S.UPLOADED, S.ANALYZED, S.CREATE_INTENT, S.UNKNOWN})
_CREATABLE = frozenset({S.UPLOADED, S.ANALYZED})
# States after which no create is sent for the item (its job is waited for, or reported).
_HAS_OR_HAD_JOB = frozenset({S.CREATED, S.FINISHED_REMOTE, S.LOST})
# A changed input may start over only from states with no unsettled job.
_RESTARTABLE = frozenset({S.PLANNED, S.UPLOADED, S.ANALYZED, S.FAILED, S.DOWNLOADED})
# How long a batch waits for PDF analyses when it has no timeout of its own.
ANALYSIS_TIMEOUT = 600.0


@dataclass
class Item:
    source: str
    shown: str  # the source as it may appear in logs and errors (URLs redacted)
    path: Path | None
    key: ItemKey
    pdf: bool = False  # priced by the service's analysis, not by the parameter table
    header: ImageHeader | None = None
    size: int = 0
    content_hash: str | None = None
    dest: Path | None = None
    dest_exists: bool = False  # the output file existed when the batch was checked
    downscale_to: tuple[int, int] | None = None  # sent at this size (``downscale=True``)
    result: EnhanceResult | None = None
    waiters: list[Item] = field(default_factory=list)  # repeats of this source in the batch


@dataclass
class Reserve:
    """The credits a batch has set aside against its limits (``max_credits``, the account's
    remaining credits), as (limit, what it is) pairs."""

    total: int
    limits: list[tuple[int, str]]

    def take(self, extra: int, source: str) -> BudgetExceeded | InsufficientCredits | None:
        """Set ``extra`` more aside for ``source``, or why that would break a limit."""
        needed = self.total + extra
        for limit, what in self.limits:
            if needed > limit and what == "max_credits":
                return BudgetExceeded(needed, limit, source=source)
            if needed > limit:
                return InsufficientCredits(needed, limit, what, source=source)
        self.total = needed
        return None


class Pipeline:
    """One ``enhance_many`` run. Built by :class:`viesus.Viesus`; not public on its own."""

    def __init__(
        self,
        client: PipelineClient,
        options: EnhancedImageInput,
        out_dir: Path,
        *,
        journal: JournalStore | None,
        overwrite: bool,
        max_credits: int | None,
        timeout: float | None,
        root: Path | None = None,
        downscale: bool = False,
        before_create: Callable[[list[ItemKey]], set[ItemKey]] | None = None,
    ) -> None:
        """``root``: the folder whose tree is mirrored under ``out_dir`` (default: the deepest
        folder holding every local source). ``before_create``: called (in a thread) right
        before each create batch is sent, after its intents are durable; returns the keys
        that must not be sent (a shared journal whose lease on them ran out). Those items are
        left to the journal's next holder, which reconciles them."""
        self.client = client
        self.options = options
        self.out_dir = out_dir
        self.journal = journal
        self.overwrite = overwrite
        self.max_credits = max_credits
        self.timeout = timeout
        self.root = root
        self.downscale = downscale
        self.before_create = before_create
        self.cost = estimate_credits(options)
        self.params_hash = hash_params(options)
        self.book = ItemBook(journal)
        self._queue: asyncio.Queue[list[EnhanceResult] | BaseException | None] = asyncio.Queue()
        self._download_gate = asyncio.Semaphore(client.download_concurrency)
        self._create_gate = asyncio.Semaphore(CREATE_CONCURRENCY)
        self._reserve = Reserve(0, [])
        self._batch_keys: set[ItemKey] = set()
        self._dry = False  # planning only (:meth:`plan`): nothing is removed or written
        self._known_content: dict[str, ItemRecord] | None = None

    @property
    def identity(self) -> StoreIdentity:
        """Whose jobs this run makes: the endpoint and a fingerprint of the key (never the key)."""
        api = self.client.api
        return StoreIdentity(redact_url(api.url), key_fingerprint(api.headers.get("x-api-key", "")))

    async def _load(self, sources: Sequence[str | Path]) -> dict[ItemKey, Item]:
        """The batch's items (a repeated source waits on its first), with their records."""
        if self.root is None:
            self.root = common_root(str(s) for s in sources)
        items: dict[ItemKey, Item] = {}
        for source in sources:
            item = self._item(source)
            first = items.get(item.key)
            if first is not None:  # the same source and options again: one job serves both
                first.waiters.append(item)
            else:
                items[item.key] = item
        self._batch_keys = set(items)
        if self.journal is not None:
            await asyncio.to_thread(self.journal.bind, self.identity)
            await self.book.load(list(items))
        return items

    async def plan(self, sources: Sequence[str | Path]) -> BatchPlan:
        """The decisions :meth:`run` would make, by the same checks, stopped before any
        request: nothing is uploaded, created or written (the journal is only read)."""
        self.book.read_only = True
        self._dry = True
        items = list((await self._load(sources)).values())
        refusals = await asyncio.to_thread(self._prepare_chunk, items, {})
        for item, refused in zip(items, refusals, strict=True):
            if refused is not None:
                self._fail(item, refused)
            else:
                await self._resume(item)
        decided = []
        for item in items:
            decided.append(self._decision(item))
            decided.extend(
                replace(decided[-1], source=t.source, action="repeat", credits=0)
                for t in item.waiters
            )
        order = {str(s): n for n, s in enumerate(sources)}
        return BatchPlan(sorted(decided, key=lambda d: order.get(d.source, 0)))

    def _decision(self, item: Item) -> PlannedItem:
        """The plan's row for a checked item, from its result or its state."""
        header = item.header if not item.pdf else None
        record = self.book.get(item.key)
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
            return replace(row, action="refused", reason=_cause(item, result.reason))
        if result is not None:
            return replace(row, action="done", output_path=result.output_path)
        state = self._state(item)
        if state not in _WILL_CREATE:
            return row  # its job exists: waited for and downloaded
        priced = not item.pdf or (record is not None and record.credits is not None)
        return replace(
            row,
            action="reconcile" if state in _UNSETTLED_CREATE else "create",
            credits=self._cost(item) if priced else None,
        )

    async def run(self, sources: Sequence[str | Path]) -> AsyncGenerator[EnhanceResult, None]:
        items = await self._load(sources)
        driver = asyncio.create_task(self._drive(list(items.values())))
        try:
            while (entry := await self._queue.get()) is not None:
                if isinstance(entry, BaseException):
                    raise entry
                for result in entry:
                    yield result
        finally:
            # An abandoned batch stops its work here, before the caller closes the journal;
            # the driver's TaskGroup cancels and awaits every task it started.
            driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await driver

    async def _drive(self, items: list[Item]) -> None:
        """Checks, budget, waves; every result goes to the consumer's queue, then ``None``."""
        try:
            async with asyncio.TaskGroup() as group:
                checked: asyncio.Queue[list[Item] | None] = asyncio.Queue(CHECKED_AHEAD)
                group.create_task(self._check(items, checked))
                work, streamed = await self._verdict(items, checked)
                await self._produce(work, checked if streamed else None, group)
            await self.book.flush()  # what the last steps left queued (``downloaded`` marks)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # surfaced to the consumer, which re-raises it
            if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
                exc = exc.exceptions[0]
            self._queue.put_nowait(exc)
        finally:
            self._queue.put_nowait(None)

    # --- 1. checks -----------------------------------------------------------------------
    def _item(self, source: str | Path) -> Item:
        key = ItemKey(source_id(source), self.params_hash)
        if is_url(source):
            return Item(source=str(source), shown=redact_url(str(source)), path=None, key=key)
        return Item(source=str(source), shown=str(source), path=Path(source), key=key)

    async def _check(self, items: list[Item], checked: asyncio.Queue[list[Item] | None]) -> None:
        """Check the sources chunk by chunk (one worker-thread trip each: headers, sizes,
        hashes, whether outputs exist), pick each up where the journal left it, and hand the
        chunk's work on: the first wave uploads while later files are still being read."""
        planned: dict[str, Item] = {}
        for start in range(0, len(items), PREPARE_CHUNK):
            chunk = items[start : start + PREPARE_CHUNK]
            refusals = await asyncio.to_thread(self._prepare_chunk, chunk, planned)
            work: list[Item] = []
            for item, refused in zip(chunk, refusals, strict=True):
                if refused is not None:
                    self._fail(item, refused)
                elif await self._resume(item) is None:
                    work.append(item)
            await self.book.flush()  # planned before any of it is uploaded
            await checked.put(work)
        await checked.put(None)

    def _prepare_chunk(
        self, items: list[Item], planned: dict[str, Item]
    ) -> list[ViesusError | None]:
        """``_prepare`` for a chunk in one worker-thread trip: a trip per item and step cost
        ~0.5 ms before the first upload."""
        return [self._prepare(item, planned) for item in items]

    def _prepare(self, item: Item, planned: dict[str, Item]) -> ViesusError | None:
        """Header, limits, output name, content hash; why the item is refused, if it is.
        Runs in a worker thread (file reads, hashing): it delivers nothing itself."""
        try:
            if item.path is not None:
                item.header = read_image_header(item.path)
                item.pdf = item.header.mimetype == PDF_MIMETYPE
                if self.downscale:
                    item.downscale_to = fitted(item.shown, item.header, self.options)[1]
                else:
                    check_limits(item.shown, item.header, self.options)
                extension = item.header.extension
                item.size = item.path.stat().st_size
                if self.journal is not None:
                    item.content_hash = hash_file(item.path)
            else:
                item.pdf = is_pdf_url(item.source)
                extension = (
                    "pdf" if item.pdf else result_extension(item.source.split("?", 1)[0], "jpg")
                )
            if item.pdf:
                combination_key(self.options)  # options a PDF analysis cannot price: refused
            item.dest = self._destination(item, extension, planned)
            item.dest_exists = not self.overwrite and item.dest.exists()
        except (InvalidInput, LimitExceeded) as exc:
            return exc
        except OSError as exc:
            return InvalidInput(item.shown, f"cannot be read ({exc.strerror})")
        return None

    def _destination(self, item: Item, extension: str, planned: dict[str, Item]) -> Path:
        """The item's output at its mirrored path; a source whose name another one in the
        batch already takes (two URLs ``…/photo.jpg``; names equal but for case) gets a
        short tag of its own."""
        dest = mirrored_output(item.source, self.out_dir, self.root, extension)
        other = planned.get(collision_key(dest))
        if other is not None and other.key != item.key:
            dest = disambiguated(dest, item.key.source_id)
        planned[collision_key(dest)] = item
        return dest

    # --- 2. journal ----------------------------------------------------------------------
    async def _resume(self, item: Item) -> EnhanceResult | None:
        """Pick up the item where the journal left it; a result if nothing is left to do."""
        record = self.book.get(item.key)
        assert item.dest is not None
        if record is None and item.content_hash is not None:
            record = await self._adopt_known_content(item)
        if record is not None and self.journal is not None and not self._dry:
            await asyncio.to_thread(remove_parts, item.dest)
        changed = record is not None and _changed(record.content_hash, item.content_hash)
        if record is not None and changed and record.state not in _RESTARTABLE:
            return self._fail(
                item,
                InvalidInput(
                    item.shown,
                    f"changed since the journal recorded it, and job {record.job_id or '?'} "
                    f"for its earlier content is {record.state}: restore the file, or use "
                    "another journal",
                ),
            )
        if record is None or changed or record.state in (S.PLANNED, *_CREATABLE, S.FAILED):
            # Everything from here creates a job: never over an existing file by accident.
            if not self.overwrite and item.dest_exists:
                return self._fail(item, OutputExists(item.shown, item.dest))
            if record is None or changed or record.state is S.FAILED:
                # New, a new image under a known name, or a free failure tried again on a
                # fresh upload (the old upload holds the failed job).
                self.book.plan(item.key, item.shown, item.content_hash)
            return None
        assert record is not None
        if record.state is S.DOWNLOADED:
            kept = record.output_path is not None and await _exists(Path(record.output_path))
            if kept and record.output_path is not None:
                return self._settle(
                    item, "skipped", Path(record.output_path), record.job_id, record.upload_id, 0
                )
            self.book.output_missing(item.key)
            return None
        if record.state is S.FINISHED_REMOTE and record.output_path and record.output_sha256:
            found = await asyncio.to_thread(sha256_of, Path(record.output_path))
            if found == record.output_sha256:  # placed before a crash, not yet journalled
                cost = self._cost(item)
                self.book.downloaded(item.key, record.output_path, cost)
                log.info("adopted the complete output of job %s", record.job_id)
                return self._settle(
                    item,
                    "finished",
                    Path(record.output_path),
                    record.job_id,
                    record.upload_id,
                    cost,
                )
        if record.state is S.LOST:
            return self._fail(
                item,
                ServerError(
                    f"{item.shown}: job {record.job_id} is lost ({record.reason}); it is not "
                    "created again automatically"
                ),
            )
        return None

    async def _adopt_known_content(self, item: Item) -> ItemRecord | None:
        """The journal's record of the same content with the same options under a source that
        is not in this batch (its folder was moved or renamed), taken over by ``item``: its
        job was created (maybe paid) and is never created again. Only records that may have
        been charged are taken; the others cost nothing to start over."""
        if self._known_content is None:
            self._known_content = await asyncio.to_thread(self._index_known_content)
        known = self._known_content.get(item.content_hash or "")
        if known is None:
            return None
        assert item.dest is not None
        found = await asyncio.to_thread(sha256_of, item.dest)
        output = str(item.dest) if found and found == known.output_sha256 else None
        log.info("%s: same content as %s, adopting its job", item.shown, known.source)
        return self.book.adopt(item.key, item.shown, known, output)

    def _index_known_content(self) -> dict[str, ItemRecord]:
        if self.journal is None:
            return {}
        return {
            record.content_hash: record
            for record in self.journal.records()
            if record.content_hash is not None
            and record.key.params_hash == self.params_hash
            and record.key not in self._batch_keys
            and record.state.maybe_charged
        }

    # --- 4. budget ---------------------------------------------------------------------------
    def _bound(self, items: list[Item]) -> int | None:
        """The most the batch can cost before any file is read, from the journal and the
        parameter table; ``None`` when a PDF's price is needed (its analysis comes first).

        Every item that may still be created counts, even one the checks will refuse or the
        journal will skip: if the batch fits even so, nothing the checks find can break the
        budget, and the waves need not wait for the last file to be read."""
        total = 0
        for item in items:
            record = self.book.get(item.key)
            if record is not None and record.state in _HAS_OR_HAD_JOB:
                continue  # no create from here (a changed input is refused, not restarted)
            if record is not None and record.state is S.ANALYZED and record.credits is not None:
                total += record.credits
            elif _named_pdf(item):
                return None
            else:
                total += self.cost
        return total

    async def _verdict(
        self, items: list[Item], checked: asyncio.Queue[list[Item] | None]
    ) -> tuple[list[Item], bool]:
        """The budget, before the first create: the work checked so far, and whether the
        waves may take each further checked chunk as it comes.

        The latter when the batch spans several chunks and fits the budget at its most
        (:meth:`_bound`): the first create goes out while later files are still read.
        Otherwise, or when PDFs are to be priced, every check, resume and analysis finishes
        first and the budget is checked on the exact cost: over it, nothing is spent (and
        nothing uploaded but the PDFs to price). The first chunk is checked before the
        credits are asked for: a batch refused by its checks asks the service nothing."""
        bound = self._bound(items)
        first = await checked.get()
        work = list(first or [])
        if first is None:
            return work, False
        remaining: int | None = None
        if bound is not None and len(items) > PREPARE_CHUNK:
            if bound:
                remaining = await self.client.remaining_credits()
            limits = [
                (limit, what)
                for limit, what in (
                    (self.max_credits, "max_credits"),
                    (remaining, "the remaining credits this period"),
                )
                if limit is not None
            ]
            if all(bound <= limit for limit, _ in limits):
                self._reserve = Reserve(bound, limits)
                return work, True
        while (chunk := await checked.get()) is not None:
            work.extend(chunk)
        await self._analyse([i for i in work if i.pdf])
        work = [i for i in work if i.result is None]
        will_create = [i for i in work if self._state(i) in _WILL_CREATE]
        if will_create and remaining is None:
            remaining = await self.client.remaining_credits()
        check_budget(
            sum(self._cost(i) for i in will_create),
            self.max_credits,
            remaining if will_create else None,
        )
        await self.book.flush()
        return work, False

    async def _price_late(self, pdfs: list[Item]) -> list[Item]:
        """PDFs found by their content once the waves ran on the batch's bound (a file named
        like an image): analysed now, each kept only while the batch still fits the budget
        with its estimate instead of an image's price; one that does not is refused, free."""
        await self._analyse(pdfs)
        kept = []
        for item in pdfs:
            if item.result is not None:
                continue
            if self._state(item) in _WILL_CREATE:
                refused = self._reserve.take(self._cost(item) - self.cost, item.shown)
                if refused is not None:
                    self._fail(item, refused)
                    continue
            kept.append(item)
        await self.book.flush()
        return kept

    # --- 5. waves ----------------------------------------------------------------------------
    async def _produce(
        self,
        work: list[Item],
        checked: asyncio.Queue[list[Item] | None] | None,
        group: asyncio.TaskGroup,
    ) -> None:
        """Upload wave by wave, taking more checked work as it comes (``checked``, when the
        budget allowed streaming); each wave's creates and completions run in tasks of their
        own. The first wave is one batch (the first jobs start sooner), later ones
        :data:`WAVE_BATCHES` (fewer pauses between PUT bursts)."""
        size = max(1, self.client.batch.value)
        late: list[Item] = []  # PDFs found by content in a streamed batch: priced at the end
        ready: list[Item] = []

        def take(chunk: list[Item]) -> None:
            for item in chunk:
                unpriced = item.pdf and self._state(item) in (S.PLANNED, S.UPLOADED)
                (late if unpriced else ready).append(item)

        take(work)
        wave = size
        while checked is not None or ready:
            while checked is not None and len(ready) < wave:
                chunk = await checked.get()
                if chunk is None:
                    checked = None
                    ready.extend(await self._price_late(late))
                else:
                    take(chunk)
            if not ready:
                break
            now, ready = ready[:wave], ready[wave:]
            await self._upload([i for i in now if self._state(i) is S.PLANNED])
            group.create_task(self._advance(now, group))
            wave = size * WAVE_BATCHES

    async def _advance(self, chunk: list[Item], group: asyncio.TaskGroup) -> None:
        """Reconcile what a crash left unsettled, then create batch by batch, each batch in a
        task of its own: a slow or hung create holds its own items only."""
        live = [i for i in chunk if i.result is None]
        await self._reconcile([i for i in live if self._state(i) in _UNSETTLED_CREATE])
        creatable = [i for i in live if self._state(i) in _CREATABLE]
        group.create_task(self._follow([i for i in live if i not in creatable], group))
        size = max(1, self.client.batch.value)
        for start in range(0, len(creatable), size):
            group.create_task(self._create_batch(creatable[start : start + size], group))

    async def _create_batch(self, items: list[Item], group: asyncio.TaskGroup) -> None:
        async with self._create_gate:
            await self._create(items)
        await self._follow(items, group)

    async def _follow(self, items: list[Item], group: asyncio.TaskGroup) -> None:
        """Wait for the items' jobs and complete each in a task of its own once it is final;
        an unsettled item gets its result.

        A job waits as a record in the client's poller, not as a task: a deep queue has
        thousands waiting at once, and a task each held ~4 KB (measured). This one task
        holds the watches of its items and ends them if the batch is abandoned."""
        left = 0
        all_final = asyncio.Event()
        stops: list[Callable[[], None]] = []

        def complete(item: Item, outcome: Job | BaseException) -> None:
            work = self._complete(item, outcome)
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
                complete(item, outcome)

            return on_final

        for item in items:
            if item.result is None and self._state(item) in _WITH_JOB:
                record = self.book.get(item.key)
                assert record is not None
                assert record.job_id is not None
                try:
                    stop = self.client.watch_job(record.job_id, watcher(item), self.timeout)
                except ViesusError as exc:  # the client closed meanwhile
                    complete(item, exc)
                    continue
                left += 1
                stops.append(stop)
            elif item.result is None:
                self._report_unsettled(item)
        if not left:
            return
        try:
            await all_final.wait()
        finally:
            for stop in stops:  # no-ops for the watches that ended
                stop()

    def _state(self, item: Item) -> ItemState | None:
        return self.book.state(item.key)

    # --- uploads ---------------------------------------------------------------------------
    async def _upload(self, items: list[Item]) -> None:
        urls = [i for i in items if i.path is None]
        files = [i for i in items if i.path is not None and i.header is not None]
        policy = self.client.retry_policy
        url_results = await upload_urls(
            self.client.api, [i.source for i in urls], self.client.batch, policy
        )
        if any(i.downscale_to for i in files):
            local = await asyncio.to_thread(self._local_files, files)
        else:  # no copy to write: no trip to a worker thread
            local = [
                LocalFile(i.path, i.header.mimetype, i.size) for i in files if i.path and i.header
            ]
        try:
            file_results = await upload_files(
                self.client.api,
                self.client.http,
                local,
                self.client.batch,
                policy,
                self.client.upload_concurrency,
            )
        finally:
            for item, file in zip(files, local, strict=True):
                if file.path != item.path:  # a downscaled copy: uploaded, or written again
                    await asyncio.to_thread(_remove_copy, file.path)
        for item, result in zip(urls + files, url_results + file_results, strict=True):
            if result.error is not None or result.upload_id is None:
                error = result.error or ServerError(f"{item.shown}: upload failed")
                self.book.upload_failed(item.key, str(error))
                self._fail(item, error)
                continue
            self.book.uploaded(item.key, result.upload_id)
            upload = result.upload
            if (
                upload is not None
                and upload.mimetype
                and (upload.mimetype == PDF_MIMETYPE) != item.pdf
            ):
                # [assumption] a URL names a PDF by its .pdf path; the other way it would be
                # created unpriced (or analysed forever): refused, free.
                kind = "a PDF whose URL does not end in .pdf" if not item.pdf else "not a PDF"
                error = InvalidInput(
                    item.shown,
                    f"is {kind} (the service stored it as {upload.mimetype}); give PDFs a URL "
                    "ending in .pdf and images one that does not",
                )
                self.book.upload_failed(item.key, str(error))
                self._fail(item, error)
                continue
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
                    self.book.upload_failed(item.key, str(exc))
                    self._fail(item, exc)
        await self.book.flush()

    # --- PDF analyses ------------------------------------------------------------------------
    def _local_files(self, items: list[Item]) -> list[LocalFile]:
        """What to upload for each file: the file, or its downscaled copy (written here)."""
        files = []
        for item in items:
            assert item.path is not None
            assert item.header is not None
            path = item.path
            if item.downscale_to is not None:
                tag = item.content_hash or item.key.source_id.encode().hex()[:32]
                path = write_downscaled(path, item.downscale_to, self.out_dir / FOLDER, tag)
            files.append(LocalFile(path, item.header.mimetype, path.stat().st_size))
        return files

    async def _analyse(self, pdfs: list[Item]) -> None:
        """Upload the PDFs not yet uploaded (journalled before the wait), wait for every
        analysis at once, journal each estimate (``analyzed``) or why there is none."""
        await self._upload([i for i in pdfs if self._state(i) is S.PLANNED])
        waiting = [i for i in pdfs if i.result is None and self._state(i) is S.UPLOADED]
        if not waiting:
            return
        analyses = await await_analyses(
            self.client,
            [(i.shown, _upload_id(self.book, i)) for i in waiting],
            self.timeout or ANALYSIS_TIMEOUT,
        )
        for item, analysis in zip(waiting, analyses, strict=True):
            if isinstance(analysis, PdfAnalysisFailed):
                self.book.analysis_failed(item.key, _reason(analysis))  # a rerun uploads anew
                self._fail(item, analysis)
            elif isinstance(analysis, ViesusError):
                self._fail(item, analysis)  # not read: a rerun asks the same upload again
            elif (estimate := analysis.credits_for(self.options)) is None:
                error = InvalidInput(item.shown, "its analysis gives no estimate for these options")
                self.book.analysis_failed(item.key, str(error))
                self._fail(item, error)
            else:
                self.book.analyzed(item.key, estimate)
        await self.book.flush()

    def _cost(self, item: Item) -> int:
        """What a job for the item costs: a PDF its analysed estimate, an image the table's."""
        if not item.pdf:
            return self.cost
        record = self.book.get(item.key)
        assert record is not None
        assert record.credits is not None, f"{item.shown}: a PDF priced without its analysis"
        return record.credits

    # --- reconciliation and creates ----------------------------------------------------------
    async def _reconcile(self, items: list[Item]) -> None:
        """Adopt the job a create may have made, or prove there is none.

        Each item has its own upload, so any job found there is this item's. "No job" is
        believed only after :data:`RECONCILE_READS` reads spaced by the retry backoff (an
        immediate read after a lost write may not see it yet); an answer that is missing or
        does not parse with the generated model is "unknown", never "no job".
        """
        pending = [i for i in items if i.result is None]
        reasons: dict[ItemKey, str | None] = {}
        policy = self.client.retry_policy
        for read in range(RECONCILE_READS):
            if not pending:
                break
            if read > 0:
                await asyncio.sleep(policy.backoff(read))
            outcomes = await run_batches(
                self.client.api,
                [_upload_id(self.book, i) for i in pending],
                upload_jobs,
                operation_name="ReconcileUploads",
                mutation=False,
                size=self.client.batch,
                concurrency=CREATE_CONCURRENCY,
            )
            still: list[Item] = []
            for item, outcome in zip(pending, outcomes, strict=True):
                jobs, reason = jobs_on_upload(outcome)
                if jobs:
                    self._adopt(item, jobs)
                    continue
                reasons[item.key] = reason
                still.append(item)
            pending = still
        for item in pending:
            reason = reasons.get(item.key)
            if reason is None:
                self.book.no_job(item.key)
            else:
                self.book.unknown(item.key, reason)
        await self.book.flush()

    def _adopt(self, item: Item, jobs: list[Job]) -> None:
        live = [j for j in jobs if j.status != ERROR]
        if len(live) > 1:
            log.warning(
                "upload of %s holds %d live jobs; adopting the first", item.shown, len(live)
            )
        job = live[0] if live else jobs[-1]
        self.client.adopted += 1
        log.info("adopted job %s found on the upload of %s", job.id, item.shown)
        self.book.created(item.key, job.id)

    async def _create(self, items: list[Item]) -> None:
        pending = [i for i in items if i.result is None]
        attempt = 0
        while pending and attempt < CREATE_ATTEMPTS:
            attempt += 1
            for item in [i for i in pending if i.key in self.book.stale]:
                self._fail(item, _taken_over(item))  # an earlier write of it was refused
            pending = [i for i in pending if i.key not in self.book.stale]
            for item in pending:
                self.book.intend_create(item.key)
            try:
                stale = await self.book.flush()  # durable BEFORE any create is sent
            except JournalError as exc:
                for item in pending:
                    self._fail(item, exc)
                return
            for item in [i for i in pending if i.key in stale]:
                self._fail(item, _taken_over(item))
            pending = [i for i in pending if i.key not in stale]
            if self.before_create is not None and pending:
                try:
                    refused = await asyncio.to_thread(self.before_create, [i.key for i in pending])
                except JournalError as exc:
                    for item in pending:
                        self._fail(item, exc)
                    return
                for item in [i for i in pending if i.key in refused]:
                    self._fail(item, _taken_over(item))
                pending = [i for i in pending if i.key not in refused]
            outcomes = await run_batches(
                self.client.api,
                pending,
                lambda i: create_job(_upload_id(self.book, i), self.options),
                operation_name="CreateEnhancedImages",
                mutation=True,
                size=self.client.batch,
                concurrency=CREATE_CONCURRENCY,
            )
            lost: list[Item] = []
            for item, outcome in zip(pending, outcomes, strict=True):
                job = _job_or_none(outcome.data)
                if job is not None:
                    self.book.created(item.key, job.id)
                elif outcome.ambiguous or outcome.data is not None:
                    lost.append(item)  # it may have run: ask the server, never resend blindly
                else:
                    error = outcome.error or ServerError("create failed")
                    self.book.create_refused(item.key, _reason(error))
                    self._fail(item, error)
            await self.book.flush()
            await self._reconcile(lost)
            # Proven absent on the upload: the create never ran, so asking again is safe.
            pending = [i for i in lost if self._state(i) in _CREATABLE]
        for item in pending:
            self._fail(
                item,
                ServerError(f"{item.shown}: the create kept failing (nothing was charged); rerun"),
            )

    def _report_unsettled(self, item: Item) -> None:
        record = self.book.get(item.key)
        if record is not None and record.state is S.UNKNOWN:
            self._fail(
                item,
                ServerError(
                    f"{item.shown}: a create may have been charged and the service could not "
                    f"say ({record.reason}); not created again, rerun with the journal to "
                    "reconcile"
                ),
            )

    # --- completion ----------------------------------------------------------------------------
    async def _complete(self, item: Item, outcome: Job | BaseException) -> None:
        """Wait for the item's job, download its output, journal it. Never raises for the item:
        every outcome becomes its result (the batch goes on)."""
        try:
            await self._finish_job(item, outcome)
        except (ViesusError, OSError) as exc:
            error = exc if isinstance(exc, ViesusError) else self._save_error(item, exc)
            if self._state(item) is S.FINISHED_REMOTE:
                self.book.save_failed(item.key, _reason(error))
                with contextlib.suppress(JournalError):
                    await self.book.flush()
            self._fail(item, error)

    async def _finish_job(self, item: Item, outcome: Job | BaseException) -> None:
        record = self.book.get(item.key)
        assert record is not None
        assert record.job_id is not None
        assert item.dest is not None
        job = await self._read_job(record.job_id, outcome)
        if job is None:
            self.book.job_lost(item.key, "the service no longer knows the job")
            await self.book.flush()
            self._fail(
                item,
                ServerError(
                    f"{item.shown}: job {record.job_id} is unknown to the service (expired, or "
                    "made on another endpoint); it is not created again automatically"
                ),
            )
            return
        if job.status == ERROR:
            self.book.job_failed(item.key, job.error_code or "ERROR")
            await self.book.flush()
            self._fail(item, EnhancementFailed(job.id, job.error_code))
            return
        if record.state is S.CREATED:
            self.book.finished_remote(item.key)
        job = await self._with_download_url(job)
        if job.full_url is None:
            raise ServerError(
                f"{item.shown}: job {job.id} finished but the service gave no download URL; "
                "rerun with the journal to download it (it is paid for)"
            )
        extension = result_extension(job.filename, item.dest.suffix)
        dest = item.dest.with_suffix("." + spelled_like(extension, item.dest.suffix))
        part = part_path(item.dest, job.id)
        async with self._download_gate:
            sha256 = await download_part(
                self.client.http, job.full_url, part, policy=self.client.retry_policy
            )
        while True:
            target = await asyncio.to_thread(choose_target, dest, self.overwrite)
            self.book.output_chosen(item.key, str(target), sha256)
            await self.book.flush()  # the name and hash are known before the file appears
            if item.key in self.book.stale:  # a shared journal gave the item to another worker
                await asyncio.to_thread(part.unlink, missing_ok=True)
                raise _taken_over(item)
            if await asyncio.to_thread(place, part, target, self.overwrite):
                break
        # Not flushed on its own: it rides with the next batch step. A crash before that
        # leaves output_path + sha256 in the journal, and a resume adopts the placed file.
        cost = self._cost(item)
        self.book.downloaded(item.key, str(target), cost)
        self._settle(item, "finished", target, job.id, record.upload_id, cost)

    async def _read_job(self, job_id: str, outcome: Job | BaseException) -> Job | None:
        """The job once FINISHED or ERROR, from the watch's ``outcome``; ``None`` if the
        service still does not know it after :data:`LOST_READS` backed-off reads."""

        async def attempt() -> Job:
            return await self.client.wait_job(job_id, self.timeout)

        policy = self.client.retry_policy
        try:
            if isinstance(outcome, Job):
                return outcome
            if not _not_found(outcome) or LOST_READS < 2:
                raise outcome
            log.info("job %s is unknown to the service; reading it again", job_id)
            await asyncio.sleep(policy.backoff(0))
            return await retrying(
                RetryPolicy(LOST_READS - 1, policy.base, policy.cap, policy.max_retry_after),
                attempt,
                retry_on=_not_found,
                what=f"read of job {job_id}",
                wait=lambda _, retry: policy.backoff(retry + 1),
            )
        except GraphQLRequestError as exc:
            if _not_found(exc):
                return None
            raise

    async def _with_download_url(self, job: Job) -> Job:
        """A FINISHED job read again (backed off) while its answer carries no ``fullUrl``."""
        policy = self.client.retry_policy
        for retry in range(policy.max_attempts - 1):
            if job.full_url:
                return job
            await asyncio.sleep(policy.backoff(retry))
            job = await self.client.wait_job(job.id, self.timeout)
        return job

    def _save_error(self, item: Item, exc: OSError) -> ViesusError:
        folder = item.dest.parent if item.dest is not None else self.out_dir
        return ViesusError(
            f"{item.shown}: the enhanced image is paid for but could not be saved in {folder} "
            f"({exc.strerror or type(exc).__name__}); fix that and rerun with the same journal "
            "to download it without paying again"
        )

    # --- results ---------------------------------------------------------------------------
    def _fail(self, item: Item, error: ViesusError) -> EnhanceResult:
        record = self.book.get(item.key)
        result = EnhanceResult(
            source=item.source,
            status="failed",
            job_id=record.job_id if record else None,
            upload_id=record.upload_id if record else None,
            error=error,
        )
        return self._deliver(item, result)

    def _settle(
        self,
        item: Item,
        status: str,
        path: Path,
        job_id: str | None,
        upload_id: str | None,
        credits: int,
    ) -> EnhanceResult:
        result = EnhanceResult(
            source=item.source,
            status="skipped" if status == "skipped" else "finished",
            output_path=path,
            job_id=job_id,
            upload_id=upload_id,
            credits=credits,
        )
        return self._deliver(item, result)

    def _deliver(self, item: Item, result: EnhanceResult) -> EnhanceResult:
        """Record the item's one result and queue it (and its repeats) for the consumer."""
        if item.result is not None:
            return item.result
        if item.downscale_to is not None and item.header is not None:
            original = (item.header.width or 0, item.header.height or 0)
            result = replace(result, downscaled=(original, item.downscale_to))
        item.result = result
        self._queue.put_nowait(_emit(item))
        return result


def _emit(item: Item) -> list[EnhanceResult]:
    """The item's result, then one for each repeat of its source in the batch (no credits)."""
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


def jobs_on_upload(outcome: Outcome) -> tuple[list[Job], str | None]:
    """The jobs an upload holds, parsed with the generated model, and why not if unknown.

    ``([], None)`` only for a well-formed answer listing no job; a missing upload, an error or
    an answer the model cannot read gives ``([], reason)``: unknown, never "no job".
    """
    if outcome.error is not None:
        return [], _reason(outcome.error)
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


def _remove_copy(path: Path) -> None:
    """Remove a downscaled copy, and its folder once empty."""
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        path.parent.rmdir()


def _cause(item: Item, reason: str | None) -> str | None:
    """A refusal's reason without the source it names first (the plan shows it beside)."""
    if reason is not None and reason.startswith(item.shown + ": "):
        return reason[len(item.shown) + 2 :]
    return reason


def _named_pdf(item: Item) -> bool:
    """The item's name says PDF (a URL's path or a file's suffix ends in ``.pdf``)."""
    if item.path is None:
        return is_pdf_url(item.source)
    return item.path.suffix.lower() == ".pdf"


def _taken_over(item: Item) -> JournalError:
    """A journal write was refused as stale: another writer (in a shared journal, the worker
    that took over the item's lease) moved the item. This run leaves the item alone; the
    other writer produces its result and output."""
    return JournalError(f"{item.shown}: changed by another journal writer, which continues it")


def _job_or_none(data: object) -> Job | None:
    if data is None:
        return None
    try:
        return Job.from_data(data)
    except (ValidationError, TypeError):
        return None


def _upload_id(book: ItemBook, item: Item) -> str:
    record = book.get(item.key)
    assert record is not None
    assert record.upload_id is not None
    return record.upload_id


async def _exists(path: Path) -> bool:
    return await asyncio.to_thread(path.exists)


def _changed(recorded: str | None, now: str | None) -> bool:
    return recorded is not None and now is not None and recorded != now


def _not_found(exc: BaseException) -> bool:
    return isinstance(exc, GraphQLRequestError) and exc.code == "NOT_FOUND"


def _reason(error: BaseException) -> str:
    code = getattr(error, "code", None) or getattr(error, "error_code", None)
    text = str(error)
    return f"{code}: {text}" if code and code not in text else text


class PipelineClient(Protocol):
    """What a pipeline needs from the client (implemented by :class:`viesus.Viesus`)."""

    api: ViesusApiClient
    http: httpx.AsyncClient
    batch: BatchSize
    retry_policy: RetryPolicy
    poller: Poller
    upload_concurrency: int
    download_concurrency: int
    adopted: int

    async def remaining_credits(self) -> int: ...

    async def wait_job(self, job_id: str, timeout: float | None) -> Job: ...

    def watch_job(
        self, job_id: str, on_final: Callable[[Job | BaseException], None], timeout: float | None
    ) -> Callable[[], None]: ...
