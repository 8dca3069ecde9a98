"""The pipeline's coordinator: :class:`Pipeline` loads a batch, runs the checks, gives the
budget verdict, and starts the waves; results reach the caller through one queue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import replace
from pathlib import Path

from viesus._buckets.run import BucketRun
from viesus._journal.states import ItemState
from viesus._journal.store import ItemKey, JournalStore, StoreIdentity
from viesus._output_names import common_root
from viesus._pdf import is_pdf_url
from viesus._pipeline import _tuning as tuning
from viesus._pipeline._client import PipelineClient
from viesus._pipeline._prepare import check, decision, new_item, prepare_chunk, resume
from viesus._pipeline._state import HAS_OR_HAD_JOB, WILL_CREATE, BatchState, Item, Reserve
from viesus._pipeline._upload import analyse
from viesus._pipeline._waves import produce
from viesus._plans import BatchPlan
from viesus._preflight import check_budget
from viesus._results import EnhanceResult
from viesus._sources import first_of_each
from viesus_client.input_types import EnhancedImageInput


class Pipeline:
    """One ``enhance_many`` run. Built by :class:`viesus.AsyncViesus`; not public on its own."""

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
        buckets: BucketRun | None = None,
    ) -> None:
        """``root``: the folder whose tree is mirrored under ``out_dir`` (default: the deepest
        folder holding every local source). ``before_create``: called (in a thread) right
        before each create batch is sent, after its intents are durable; returns the keys
        that must not be sent (a shared journal whose lease on them ran out). Those items are
        left to the journal's next holder, which reconciles them. ``buckets``: the batch's
        ``s3://`` sources (listed when the batch loads) and destination (``out_dir`` is
        then its prefix)."""
        self.batch = BatchState(
            client,
            options,
            out_dir,
            journal,
            overwrite,
            max_credits,
            timeout,
            root=root,
            downscale=downscale,
            before_create=before_create,
            buckets=buckets,
        )

    @property
    def identity(self) -> StoreIdentity:
        """Whose jobs this run makes: the endpoint and a fingerprint of the key (never the key)."""
        return self.batch.identity

    async def _load(self, sources: Sequence[str | Path]) -> dict[ItemKey, Item]:
        """The batch's items (a repeated source waits on its first), with their records."""
        batch = self.batch
        if batch.buckets is not None:
            sources = await batch.buckets.expand(sources)
            if batch.buckets.out is not None:
                batch.out_dir = batch.buckets.out_dir
        if batch.root is None:
            batch.root = common_root(str(s) for s in sources)
        made = (new_item(batch, source) for source in sources)
        items, repeats = first_of_each(made, lambda item: item.key)
        for key, again in repeats.items():  # the same source and options: one job serves all
            items[key].repeats = [item.source for item in again]
        batch.batch_keys = set(items)
        if batch.journal is not None:
            await asyncio.to_thread(batch.journal.bind, batch.identity)
            await batch.book.load(list(items))
        return items

    async def plan(self, sources: Sequence[str | Path]) -> BatchPlan:
        """The decisions :meth:`run` would make, by the same checks, stopped before any
        request: nothing is uploaded, created or written (the journal is only read)."""
        batch = self.batch
        batch.book.read_only = True
        batch.dry = True
        items = list((await self._load(sources)).values())
        refusals = await asyncio.to_thread(prepare_chunk, batch, items, {})
        for item, refused in zip(items, refusals, strict=True):
            if refused is not None:
                batch.fail(item, refused)
            else:
                await resume(batch, item)
        decided = []
        for item in items:
            decided.append(decision(batch, item))
            decided.extend(
                replace(decided[-1], source=source, action="repeat", credits=0)
                for source in item.repeats
            )
        order = {str(s): n for n, s in enumerate(sources)}
        return BatchPlan(sorted(decided, key=lambda d: order.get(d.source, 0)))

    async def run(self, sources: Sequence[str | Path]) -> AsyncGenerator[EnhanceResult, None]:
        items = await self._load(sources)
        driver = asyncio.create_task(self._drive(list(items.values())))
        try:
            while (entry := await self.batch.queue.get()) is not None:
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
        batch = self.batch
        try:
            async with asyncio.TaskGroup() as group:
                checked: asyncio.Queue[list[Item] | None] = asyncio.Queue(tuning.CHECKED_AHEAD)
                group.create_task(check(batch, items, checked))
                work, streamed = await self._verdict(items, checked)
                await produce(batch, work, checked if streamed else None, group)
            await batch.book.flush()  # what the last steps left queued (``downloaded`` marks)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # surfaced to the consumer, which re-raises it
            if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
                exc = exc.exceptions[0]
            batch.queue.put_nowait(exc)
        finally:
            batch.queue.put_nowait(None)

    def _bound(self, items: list[Item]) -> int | None:
        """The most the batch can cost before any file is read, from the journal and the
        parameter table; ``None`` when a PDF's price is needed (its analysis comes first).

        Every item that may still be created counts, even one the checks will refuse or the
        journal will skip: if the batch fits even so, nothing the checks find can break the
        budget, and the waves need not wait for the last file to be read."""
        total = 0
        for item in items:
            record = self.batch.book.get(item.key)
            if record is not None and record.state in HAS_OR_HAD_JOB:
                continue  # no create from here (a changed input is refused, not restarted)
            if (
                record is not None
                and record.state is ItemState.ANALYZED
                and record.credits is not None
            ):
                total += record.credits
            elif _named_pdf(item):
                return None
            else:
                total += self.batch.cost
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
        batch = self.batch
        bound = self._bound(items)
        first = await checked.get()
        work = list(first or [])
        if first is None:
            return work, False
        remaining: int | None = None
        if bound is not None and len(items) > tuning.PREPARE_CHUNK:
            if bound:
                remaining = await batch.client.remaining_credits()
            limits = [
                (limit, what)
                for limit, what in (
                    (batch.max_credits, "max_credits"),
                    (remaining, "the remaining credits this period"),
                )
                if limit is not None
            ]
            if all(bound <= limit for limit, _ in limits):
                batch.reserve = Reserve(bound, limits)
                return work, True
        while (chunk := await checked.get()) is not None:
            work.extend(chunk)
        await analyse(batch, [i for i in work if i.pdf])
        work = [i for i in work if i.result is None]
        will_create = [i for i in work if batch.state(i) in WILL_CREATE]
        if will_create and remaining is None:
            remaining = await batch.client.remaining_credits()
        check_budget(
            sum(batch.cost_of(i) for i in will_create),
            batch.max_credits,
            remaining if will_create else None,
        )
        await batch.book.flush()
        return work, False


def _named_pdf(item: Item) -> bool:
    """The item's name says PDF (a URL's path or a file's suffix ends in ``.pdf``)."""
    if item.path is None:
        return is_pdf_url(item.source)
    return item.path.suffix.lower() == ".pdf"
