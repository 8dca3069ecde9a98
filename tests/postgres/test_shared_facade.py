"""The shared journal through the public facade, in one process: selection by URL, clear
refusals, the batch budget enforced across workers, and what ``status`` reports."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.facade.conftest import make_client
from viesus import (
    AsyncViesus,
    BudgetExceeded,
    ConfigurationError,
    EnhanceOptions,
    EnhanceResult,
    LeaseTimes,
    SharedBatch,
)
from viesus._errors import JournalError
from viesus._journal.postgres.journal import PostgresJournal
from viesus_emulator import Emulator

OPTIONS = EnhanceOptions(mode="ENHANCE")  # 1 credit each
FAST = LeaseTimes(duration=5.0, renew_every=0.5, create_window=2.0)


async def run(
    client: AsyncViesus, sources: list[Path], out: Path, dsn: str, name: str, **kwargs: object
) -> list[EnhanceResult]:
    batch = SharedBatch("b", lease=FAST, claim_size=2, worker_id=name)
    return [
        result
        async for result in client.enhance_many(
            sources,
            OPTIONS,
            out,
            journal=dsn,
            batch=batch,
            **kwargs,  # type: ignore[arg-type]
        )
    ]


async def test_batch_needs_a_shared_journal_and_a_shared_journal_needs_a_batch(
    viesus: AsyncViesus, photos: Callable[[int], list[Path]], tmp_path: Path
) -> None:
    sources = photos(1)
    with pytest.raises(ConfigurationError, match="batch= names a batch in a shared journal"):
        async for _ in viesus.enhance_many(sources, OPTIONS, tmp_path, batch="b"):
            pass
    with pytest.raises(ConfigurationError, match="name the batch"):
        async for _ in viesus.enhance_many(
            sources, OPTIONS, tmp_path, journal="postgresql://127.0.0.1:1/x"
        ):
            pass


async def test_a_missing_driver_says_how_to_install_it(
    viesus: AsyncViesus, photos: Callable[[int], list[Path]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg -> ImportError
    with pytest.raises(JournalError, match=r"pip install 'viesus-toolkit\[postgres\]'"):
        async for _ in viesus.enhance_many(
            photos(1), OPTIONS, tmp_path, journal="postgresql://127.0.0.1:1/x", batch="b"
        ):
            pass


async def test_max_credits_holds_across_workers_with_different_sources(
    emulator: Emulator, photos: Callable[[int], list[Path]], tmp_path: Path, pg_dsn: str
) -> None:
    sources = photos(10)
    out = tmp_path / "out"
    # Each worker's own 5 items fit the budget of 6; together they do not. The shared counter
    # lets exactly 6 creates through, whichever worker asks.
    async with make_client(emulator, batch_size=2) as a, make_client(emulator, batch_size=2) as b:
        results = await asyncio.gather(
            run(a, sources[:5], out, pg_dsn, "a", max_credits=6),
            run(b, sources[5:], out, pg_dsn, "b", max_credits=6),
        )
    everything = [r for worker in results for r in worker]
    finished = [r for r in everything if r.status == "finished"]
    refused = [r for r in everything if r.status == "failed"]
    assert len(finished) == 6
    assert len(refused) == 4
    assert all(isinstance(r.error, BudgetExceeded) for r in refused)
    stats = emulator.stats()
    assert stats["jobs"]["total"] == 6
    assert stats["credits"]["charged"] == 6

    store = PostgresJournal.open(pg_dsn, "b")
    try:
        status = store.status()
    finally:
        store.close()
    assert status.total == 10
    assert status.outcomes == {"finished": 6, "failed": 4}
    assert status.credits_spent == 6
    assert status.credits_committed == 6
    assert status.max_credits == 6
    assert {w.worker for w in status.workers} == {"a", "b"}
    assert sum(w.settled for w in status.workers) == 10
    assert status.eta_seconds == 0.0


async def test_a_rerun_after_completion_sends_no_mutation(
    emulator: Emulator, photos: Callable[[int], list[Path]], tmp_path: Path, pg_dsn: str
) -> None:
    sources = photos(4)
    async with make_client(emulator) as client:
        first = await run(client, sources, tmp_path / "out", pg_dsn, "first")
    assert {r.status for r in first} == {"finished"}
    store = PostgresJournal.open(pg_dsn, "b")
    try:
        # Every record reached its last state (the run's final journal step was not fenced off
        # by the item being settled) and no lease is left behind.
        assert store.status().states == {"downloaded": 4}
        assert all(w.holding == 0 for w in store.status().workers)
    finally:
        store.close()
    before = emulator.stats()["requests"]["total"]
    async with make_client(emulator) as client:
        again = await run(client, sources, tmp_path / "out", pg_dsn, "again")
    assert again == []  # nothing open: the batch is done, this worker has nothing to do
    by_op = emulator.stats()["requests"]["by_operation"]
    assert emulator.stats()["requests"]["total"] - before == 0, by_op


async def test_a_worker_asking_for_another_budget_is_refused_before_spending(
    emulator: Emulator, photos: Callable[[int], list[Path]], tmp_path: Path, pg_dsn: str
) -> None:
    sources = photos(2)
    async with make_client(emulator) as client:
        await run(client, sources, tmp_path / "out", pg_dsn, "first", max_credits=50)
        before = emulator.stats()["requests"]["total"]
        with pytest.raises(ConfigurationError, match="started with max_credits=50, this worker"):
            await run(client, sources, tmp_path / "out", pg_dsn, "second", max_credits=10)
        # No budget given: the batch's applies (nothing is left to do here anyway).
        assert await run(client, sources, tmp_path / "out", pg_dsn, "third") == []
    assert emulator.stats()["requests"]["total"] == before
