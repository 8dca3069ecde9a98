"""Many workers, one batch: the loop each worker runs against a shared PostgreSQL journal.

The worker joins the batch, adds its sources to the queue, then runs *lanes* that each claim a
few items and run the ordinary pipeline on exactly those, settle each outcome and give the
leases back; a background task renews the leases. The design is in SCALING.md and
ARCHITECTURE-notes-r2.md ("The shared batch worker").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from viesus._errors import BudgetExceeded, ConfigurationError, InvalidInput, ViesusError
from viesus._journal.keys import hash_params, item_key, shown_source
from viesus._journal.postgres.journal import BatchSettings, LeaseTimes, PostgresJournal
from viesus._journal.states import ItemState
from viesus._journal.store import ItemKey
from viesus._output_names import common_root
from viesus._pdf import looks_like_pdf
from viesus._preflight import check_budget, estimate_credits
from viesus._results import EnhanceResult
from viesus._sources import first_of_each, repeated

if TYPE_CHECKING:
    from viesus._pipeline import PipelineClient
    from viesus_client.input_types import EnhancedImageInput

log = logging.getLogger("viesus._shared_batch")

__all__ = ["SharedBatch", "drain", "shared_batch"]


@dataclass(frozen=True)
class SharedBatch:
    """How this worker takes part in a named batch.

    ``claim_size`` items are claimed at a time per lane (default: one request batch of the
    client), so the items spread over the workers; ``lanes`` pipeline runs go on at once.
    ``worker_id`` defaults to ``host:pid:random``. A worker with nothing to claim while others
    hold the last open items looks again every ``idle_poll`` seconds (one small query).
    ``before_create``: called in a worker thread right before each create batch leaves, with
    the batch's sources as journalled (before the lease check); for monitoring and tests.
    """

    name: str
    lease: LeaseTimes = field(default_factory=LeaseTimes)
    claim_size: int | None = None
    lanes: int = 2
    worker_id: str | None = None
    outage_limit: float = 120.0
    idle_poll: float = 1.0
    before_create: Callable[[list[str]], object] | None = None

    def __post_init__(self) -> None:
        if self.lanes < 1 or (self.claim_size is not None and self.claim_size < 1):
            raise ValueError(
                f"SharedBatch: lanes ({self.lanes}) and claim_size ({self.claim_size}) "
                "must be at least 1"
            )


def shared_batch(batch: str | SharedBatch | None) -> SharedBatch:
    """``batch=`` as given to ``enhance_many``: a name, or a :class:`SharedBatch`."""
    if isinstance(batch, SharedBatch):
        return batch
    if not batch:
        raise ConfigurationError(
            "a postgresql:// journal is shared by many workers: name the batch they share, "
            "e.g. batch='lab-2026-11-30' (--batch in the CLI)"
        )
    return SharedBatch(batch)


async def drain(
    client: PipelineClient,
    sources: Sequence[str | Path],
    options: EnhancedImageInput,
    out_dir: Path,
    *,
    dsn: str,
    batch: SharedBatch,
    overwrite: bool,
    max_credits: int | None,
    timeout: float | None,
    root: Path | None = None,
    downscale: bool = False,
) -> AsyncGenerator[EnhanceResult, None]:
    """Work on the batch until none of its items is open; yield this worker's results.
    ``root``: the folder mirrored under ``out_dir`` (default: the sources' deepest common
    folder; every worker is started with the same sources, so they agree)."""
    store = await asyncio.to_thread(
        PostgresJournal.open,
        dsn,
        batch.name,
        worker_id=batch.worker_id,
        lease=batch.lease,
        outage_limit=batch.outage_limit,
    )
    try:
        worker = _Worker(client, store, options, out_dir, batch, overwrite, timeout)
        worker.root = root or common_root(str(s) for s in sources)
        worker.downscale = downscale
        await worker.join(sources, max_credits)
        async with contextlib.aclosing(worker.run()) as results:
            async for result in results:
                yield result
    finally:
        await asyncio.to_thread(store.close)


class _Worker:
    def __init__(
        self,
        client: PipelineClient,
        store: PostgresJournal,
        options: EnhancedImageInput,
        out_dir: Path,
        batch: SharedBatch,
        overwrite: bool,
        timeout: float | None,
    ) -> None:
        self.client = client
        self.store = store
        self.options = options
        self.out_dir = out_dir
        self.batch = batch
        self.overwrite = overwrite
        self.timeout = timeout
        self.root: Path | None = None
        self.downscale = False
        self.cost = estimate_credits(options)
        self.sources: dict[ItemKey, str | Path] = {}
        self.twins: dict[ItemKey, list[str | Path]] = {}
        self.foreign: set[ItemKey] = set()
        self._lane_ended = asyncio.Event()

    def _before_create(self, keys: list[ItemKey]) -> set[ItemKey]:
        """The pipeline's last step before a create batch leaves: keys not to send."""
        if self.batch.before_create is not None:
            shown = [shown_source(self.sources[k]) if k in self.sources else str(k) for k in keys]
            self.batch.before_create(shown)
        return self.store.confirm_for_create(keys)

    async def join(self, sources: Sequence[str | Path], max_credits: int | None) -> None:
        """Join (or create) the batch and add this worker's sources to its queue."""
        # Money fails closed: the shared budget reserves one price per item, and a PDF costs
        # what its analysis says (often more): PDFs go through enhance_many without batch=.
        pdfs = await asyncio.to_thread(lambda: [s for s in sources if looks_like_pdf(s)])
        if pdfs:
            raise InvalidInput(
                shown_source(pdfs[0]),
                "is a PDF, priced by its analysis, and a shared batch budgets one price per "
                "item; enhance PDFs with enhance_many without batch=",
            )
        settings = BatchSettings(
            hash_params(self.options), str(self.out_dir.resolve()), self.cost, max_credits
        )
        recorded = await asyncio.to_thread(self.store.join, settings)
        if max_credits is not None and recorded.max_credits != max_credits:
            # Money fails closed: never run under a budget other than the one asked for.
            raise ConfigurationError(
                f"batch {self.batch.name!r} was started with max_credits="
                f"{recorded.max_credits}, this worker asks for {max_credits}: the budget "
                "belongs to the batch; pass the same value (or none), or use another batch name"
            )
        self.sources, self.twins = first_of_each(sources, lambda s: item_key(s, self.options))
        # Refuse before spending when the whole batch cannot fit its budget.
        check_budget(self.cost * len(self.sources), recorded.max_credits)
        await asyncio.to_thread(
            self.store.enqueue, [(key, shown_source(src)) for key, src in self.sources.items()]
        )

    async def run(self) -> AsyncGenerator[EnhanceResult, None]:
        queue: asyncio.Queue[EnhanceResult | BaseException | None] = asyncio.Queue()
        lanes_left = self.batch.lanes

        async def lane() -> None:
            nonlocal lanes_left
            try:
                await self._lane(queue)
            except BaseException as exc:
                queue.put_nowait(exc)
                raise
            finally:
                lanes_left -= 1
                if lanes_left == 0:
                    queue.put_nowait(None)

        renewer = asyncio.create_task(self._renew(queue))
        tasks = [asyncio.create_task(lane()) for _ in range(self.batch.lanes)]
        try:
            while (entry := await queue.get()) is not None:
                if isinstance(entry, BaseException):
                    raise entry
                yield entry
        finally:
            for task in (renewer, *tasks):
                task.cancel()
            await asyncio.gather(renewer, *tasks, return_exceptions=True)

    async def _renew(self, queue: asyncio.Queue[EnhanceResult | BaseException | None]) -> None:
        while True:
            await asyncio.sleep(self.batch.lease.renew_every)
            try:
                await asyncio.to_thread(self.store.renew)
            except ViesusError as exc:  # the database stayed away past outage_limit
                queue.put_nowait(exc)
                return

    async def _lane(self, queue: asyncio.Queue[EnhanceResult | BaseException | None]) -> None:
        size = self.batch.claim_size or self.client.batch.value
        while True:
            claimed = await asyncio.to_thread(self.store.claim, size, frozenset(self.foreign))
            foreign = [key for key in claimed if key not in self.sources]
            if foreign:  # another worker's source: give it back at once
                self.foreign.update(foreign)
                await asyncio.to_thread(self.store.release, foreign)
            mine = [key for key in claimed if key in self.sources]
            if mine:
                async for result in self._work(mine):
                    queue.put_nowait(result)
                # Wake the lanes waiting for work: this run may have given items back.
                self._lane_ended.set()
                self._lane_ended = asyncio.Event()
                continue
            if foreign:
                continue
            elsewhere, wait = await asyncio.to_thread(self.store.open_elsewhere)
            if elsewhere == 0 and not self.store.held():
                return  # nothing open anywhere: the batch is done
            # Other workers (or this worker's other lanes) hold the rest: look again when one
            # of this worker's lanes ends a run, when the first foreign lease could expire, or
            # after ``idle_poll`` (another worker may settle or give items back).
            pause = self.batch.idle_poll if wait is None else min(wait + 0.05, self.batch.idle_poll)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lane_ended.wait(), max(pause, 0.05))

    async def _work(self, keys: list[ItemKey]) -> AsyncGenerator[EnhanceResult, None]:
        """One pipeline run over claimed items; settle each result on the queue row."""
        from viesus._pipeline import Pipeline

        by_source = {str(self.sources[key]): key for key in keys}
        pipeline = Pipeline(
            self.client,
            self.options,
            self.out_dir,
            journal=self.store,
            overwrite=self.overwrite,
            max_credits=None,  # the batch's budget is the journal's shared counter
            timeout=self.timeout,
            root=self.root,
            downscale=self.downscale,
            before_create=self._before_create,
        )
        seen: set[ItemKey] = set()
        async with contextlib.aclosing(pipeline.run([self.sources[k] for k in keys])) as results:
            async for result in results:
                key = by_source.get(result.source)
                if key is None or key in seen:
                    continue
                seen.add(key)
                settled = await self._settle(key, result)
                if settled is not None:
                    yield settled
                    for twin in repeated(settled, self.twins.get(key, [])):
                        yield twin
        # The run is over (its last journal step written): give every lease of it back.
        # Settled items stay settled; an item left without a result is free for any worker.
        held = [key for key in keys if self.store.holds(key)]
        if held:
            await asyncio.to_thread(self.store.release, held)

    async def _settle(self, key: ItemKey, result: EnhanceResult) -> EnhanceResult | None:
        if not self.store.holds(key):
            log.info("%s: lease lost, another worker continues it", result.source)
            return None
        if key in self.store.over_budget:
            result = EnhanceResult(
                source=result.source,
                status="failed",
                upload_id=result.upload_id,
                error=BudgetExceeded(self.cost, self._budget(), "the batch's max_credits"),
            )
        outcome: str = result.status
        if result.status == "failed" and key not in self.store.over_budget:
            record = (await asyncio.to_thread(self.store.load, [key])).get(key)
            if record is not None and record.state.maybe_charged and not record.state.terminal:
                outcome = "unknown"  # another claim may reconcile it; never created again
            elif record is not None and record.state is ItemState.LOST:
                outcome = "lost"
        refused = await asyncio.to_thread(self.store.settle, [(key, outcome, result.reason)])
        if key in refused:
            log.info("%s: lease lost before its result was recorded", result.source)
            return None
        return result

    def _budget(self) -> int:
        settings = self.store.settings
        return settings.max_credits if settings and settings.max_credits is not None else 0
