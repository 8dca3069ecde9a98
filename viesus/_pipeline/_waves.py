"""Waves: upload a wave, then reconcile and create it in a task of its own (batched, batches
side by side) while the next wave uploads; each create batch's jobs are then followed."""

from __future__ import annotations

import asyncio

from viesus._journal.states import ItemState
from viesus._pipeline import _tuning as tuning
from viesus._pipeline._completion import follow
from viesus._pipeline._create import create, reconcile
from viesus._pipeline._state import CREATABLE, UNSETTLED_CREATE, WILL_CREATE, BatchState, Item
from viesus._pipeline._upload import analyse, upload


async def produce(
    batch: BatchState,
    work: list[Item],
    checked: asyncio.Queue[list[Item] | None] | None,
    group: asyncio.TaskGroup,
) -> None:
    """Upload wave by wave, taking more checked work as it comes (``checked``, when the
    budget allowed streaming); each wave's creates and completions run in tasks of their
    own. The first wave is one batch (the first jobs start sooner), later ones
    :data:`~viesus._pipeline._tuning.WAVE_BATCHES` (fewer pauses between PUT bursts)."""
    size = max(1, batch.client.batch.value)
    late: list[Item] = []  # PDFs found by content in a streamed batch: priced at the end
    ready: list[Item] = []

    def take(chunk: list[Item]) -> None:
        for item in chunk:
            unpriced = item.pdf and batch.state(item) in (ItemState.PLANNED, ItemState.UPLOADED)
            (late if unpriced else ready).append(item)

    take(work)
    wave = size
    while checked is not None or ready:
        while checked is not None and len(ready) < wave:
            chunk = await checked.get()
            if chunk is None:
                checked = None
                ready.extend(await _price_late(batch, late))
            else:
                take(chunk)
        if not ready:
            break
        now, ready = ready[:wave], ready[wave:]
        await upload(batch, [i for i in now if batch.state(i) is ItemState.PLANNED])
        group.create_task(_advance(batch, now, group))
        wave = size * tuning.WAVE_BATCHES


async def _price_late(batch: BatchState, pdfs: list[Item]) -> list[Item]:
    """PDFs found by their content once the waves ran on the batch's bound (a file named
    like an image): analysed now, each kept only while the batch still fits the budget
    with its estimate instead of an image's price; one that does not is refused, free."""
    await analyse(batch, pdfs)
    kept = []
    for item in pdfs:
        if item.result is not None:
            continue
        if batch.state(item) in WILL_CREATE:
            refused = batch.reserve.take(batch.cost_of(item) - batch.cost, item.shown)
            if refused is not None:
                batch.fail(item, refused)
                continue
        kept.append(item)
    await batch.book.flush()
    return kept


async def _advance(batch: BatchState, chunk: list[Item], group: asyncio.TaskGroup) -> None:
    """Reconcile what a crash left unsettled, then create batch by batch, each batch in a
    task of its own: a slow or hung create holds its own items only."""
    live = [i for i in chunk if i.result is None]
    await reconcile(batch, [i for i in live if batch.state(i) in UNSETTLED_CREATE])
    creatable = [i for i in live if batch.state(i) in CREATABLE]
    group.create_task(follow(batch, [i for i in live if i not in creatable], group))
    size = max(1, batch.client.batch.value)
    for start in range(0, len(creatable), size):
        group.create_task(_create_batch(batch, creatable[start : start + size], group))


async def _create_batch(batch: BatchState, items: list[Item], group: asyncio.TaskGroup) -> None:
    async with batch.create_gate:
        await create(batch, items)
    await follow(batch, items, group)
