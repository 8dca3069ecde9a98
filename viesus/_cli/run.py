"""The batch run of ``viesus enhance``: every source through the journal, Ctrl-C safe.

First Ctrl-C: stop cleanly (in-flight jobs stay in the journal, the report is written).
Second Ctrl-C: exit at once; the journal records every create intent before it is sent, so
even then a rerun pays nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from viesus import AsyncViesus, EnhanceOptions, EnhanceResult, Journal, LeaseTimes, SharedBatch
from viesus._buckets.locations import is_bucket
from viesus._cli.errors import EXIT_INTERRUPTED
from viesus._cli.journal import JOURNAL_NAME, JournalChoice
from viesus._cli.progress import Events, ProgressView
from viesus._cli.records import now, result_record, write_sidecar
from viesus._cli.settings import Configuration
from viesus._journal.states import ItemState
from viesus._journal.store import StateChange

__all__ = ["JOURNAL_NAME", "forget_previous_local_server", "run_batch"]


class Interrupts:
    """First Ctrl-C cancels the run cleanly; the second exits the process at once."""

    def __init__(self, task: asyncio.Task[Any], say: Callable[[str], None]) -> None:
        self.task, self.say, self.count = task, say, 0

    def __call__(self) -> None:
        self.count += 1
        if self.count > 1:
            os._exit(EXIT_INTERRUPTED)
        self.say(
            "stopping: jobs in flight stay in the journal; rerun the same command to pick "
            "them up without paying again (Ctrl-C again to quit at once)"
        )
        self.task.cancel()


def forget_previous_local_server(out: Path, journal_path: Path | None = None) -> None:
    """``--local`` starts a new emulator each run: jobs of an earlier run's emulator are gone.

    The journal keeps only the items whose output is on disk (``downloaded``); every other
    item starts over against the new emulator, and the journal is bound to the new endpoint.
    Safe only because that emulator, and everything it charged, no longer exists; against a
    real endpoint unfinished items are always continued (the journal refuses another endpoint).
    The new journal is written beside the old one and moved over it, so a crash here leaves
    one of the two, never neither.
    """
    journal_path = journal_path or out / JOURNAL_NAME
    if journal_path.exists():
        with Journal.open(journal_path) as old:
            kept = [r for r in old.records() if r.state is ItemState.DOWNLOADED]
        fresh = journal_path.with_name(journal_path.name + ".local-restart")
        for leftover in _sqlite_files(fresh):
            leftover.unlink(missing_ok=True)
        with Journal.open(fresh) as new:
            new.apply([StateChange(None, record) for record in kept])
        for leftover in _sqlite_files(journal_path)[1:]:
            leftover.unlink(missing_ok=True)
        os.replace(fresh, journal_path)
        fresh.with_name(fresh.name + ".lock").unlink(missing_ok=True)


def _sqlite_files(path: Path) -> list[Path]:
    """A SQLite database and its companions (write-ahead log, shared memory)."""
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


async def all_results(
    viesus: AsyncViesus,
    sources: Sequence[str],
    options: EnhanceOptions,
    config: Configuration,
    out: Path,
    root: Path | None,
    choice: JournalChoice,
) -> AsyncGenerator[EnhanceResult, None]:
    """Every source (images, URLs, PDFs) through one journaled batch and one budget, the
    input tree (from ``root``) mirrored under ``out``."""
    batch = viesus.enhance_many(
        sources,
        options,
        config.batch.destination or out,
        root=root,
        journal=choice.shared.dsn if choice.shared else (choice.path or out / JOURNAL_NAME),
        batch=_shared_batch(choice),
        overwrite=config.batch.overwrite,
        max_credits=config.batch.max_credits,
        downscale=config.batch.downscale_to_fit,
    )
    async with contextlib.aclosing(batch) as results:
        async for result in results:
            yield result


def _shared_batch(choice: JournalChoice) -> SharedBatch | None:
    """``--batch``/``--lease`` as the facade takes them: renewal every sixth of the lease, a
    create window of half of it (the defaults' proportions: 60 s, 10 s, 30 s)."""
    shared = choice.shared
    if shared is None:
        return None
    lease = LeaseTimes() if shared.lease is None else _lease_times(shared.lease)
    return SharedBatch(shared.batch, lease=lease, worker_id=shared.worker)


def _lease_times(seconds: float) -> LeaseTimes:
    return LeaseTimes(duration=seconds, renew_every=seconds / 6, create_window=seconds / 2)


def known_total(sources: Sequence[str]) -> int | None:
    """How many results the batch will give, or ``None`` when an ``s3://`` source is a
    prefix (its objects are listed inside the batch, after the progress view starts)."""
    for source in sources:
        if is_bucket(source) and (source.endswith("/") or "/" not in source[len("s3://") :]):
            return None
    return len(sources)


async def run_batch(
    viesus: AsyncViesus,
    sources: Sequence[str],
    options: EnhanceOptions,
    config: Configuration,
    *,
    out: Path,
    root: Path | None,
    choice: JournalChoice,
    sidecar: bool,
    events: Events,
    console: Console,
) -> tuple[list[EnhanceResult], bool]:
    """Enhance ``sources``; returns the results and whether the run was interrupted."""
    results: list[EnhanceResult] = []
    started_at, started = now(), time.monotonic()
    interrupted = False
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    handler = Interrupts(task, lambda m: print(m, file=sys.stderr, flush=True))
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, handler)
    try:
        batch = choice.shared.batch if choice.shared else None
        with ProgressView(known_total(sources), console, batch=batch) as view:
            stream = all_results(viesus, sources, options, config, out, root, choice)
            async with contextlib.aclosing(stream) as items:
                async for result in items:
                    seconds = time.monotonic() - started
                    results.append(result)
                    if sidecar:
                        write_sidecar(result, config.options_json(), seconds, started_at)
                    events.emit("result", **result_record(result, seconds))
                    view.result(result)
    except asyncio.CancelledError:
        interrupted = True
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
    return results, interrupted
