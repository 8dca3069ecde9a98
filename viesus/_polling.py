"""One poller per client serves every pending wait with as few requests as possible.

Each tick sends one aliased query for the jobs the planner (:mod:`viesus._poll_planner`) says
can have finished; webhook deliveries are hints that make it read a job at once. Why this
shape: docs/DESIGN.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from viesus._errors import AuthenticationError, ClientClosed, GraphQLRequestError, WaitTimeout
from viesus._jobs import ERROR, FINISHED, Job
from viesus._poll_planner import PollPlanner, PollSchedule

log = logging.getLogger("viesus._polling")

# Per job id: the job as read, an error for that alias alone, or None (no such job).
FetchResult = dict[str, Job | BaseException | None]
FetchBatch = Callable[[list[str]], Awaitable[FetchResult]]
# Called once when a watched job is final (see :func:`is_final`), or with why the wait ended.
OnFinal = Callable[[Job | BaseException], None]
# Jobs a delivery mentioned before anybody waited for them (a delivery can beat the create
# answer): their first look is immediate. Bounded, oldest forgotten first.
EARLY_HINTS = 10_000


__all__ = ["FetchBatch", "FetchResult", "OnFinal", "PollSchedule", "Poller", "is_final"]


@dataclass(slots=True, eq=False)
class _Watch:
    """A wait held as a record, not a task: a batch's whole queue may wait at once."""

    on_final: OnFinal
    timer: asyncio.TimerHandle | None = None


@dataclass(slots=True)
class _Entry:
    job_id: str
    last: Job | None = None
    hints: int = 0  # deliveries about this job; one arriving mid-read asks for another read
    waiters: list[asyncio.Future[Job] | _Watch] = field(default_factory=list)


def is_final(job: Job) -> bool:
    """ERROR, or FINISHED with the result's URL: what a wait may end on."""
    return job.status == ERROR or (job.status == FINISHED and bool(job.full_url))


class Poller:
    """Coalesces the waits of one client into aliased batch queries."""

    def __init__(
        self,
        fetch: FetchBatch,
        *,
        batch_size: int = 50,
        schedule: PollSchedule | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._fetch = fetch
        self._planner = PollPlanner(
            schedule or PollSchedule(), batch_size, deliveries_arrive=self._deliveries_arrive
        )
        self._entries: dict[str, _Entry] = {}
        self._early_hints: OrderedDict[str, None] = OrderedDict()
        self._last_delivery: float | None = None
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def schedule(self) -> PollSchedule:
        return self._planner.schedule

    @schedule.setter
    def schedule(self, schedule: PollSchedule) -> None:
        self._planner.schedule = schedule

    @property
    def batch_size(self) -> int:
        return self._planner.batch_size

    @batch_size.setter
    def batch_size(self, size: int) -> None:
        self._planner.batch_size = size

    async def wait(
        self, job_id: str, *, timeout: float | None = None, delay: float | None = None
    ) -> Job:
        """The job once final (see :func:`is_final`). ``delay``: seconds until the first look."""
        entry = self._enter(job_id, delay)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Job] = loop.create_future()
        entry.waiters.append(future)
        self._ensure_running()
        self._wakeup.set()
        started = loop.time()
        try:
            # The future is this waiter's own: a timeout or a cancellation may cancel it. No
            # wrapper without a timeout: every job of a deep queue waits here at once.
            if timeout is None:
                return await future
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            last = entry.last.status if entry.last else None
            raise WaitTimeout(job_id, loop.time() - started, last) from None
        finally:
            if not future.done():
                future.cancel()
            self._leave(entry, future)

    def watch(
        self,
        job_id: str,
        on_final: OnFinal,
        *,
        timeout: float | None = None,
        delay: float | None = None,
    ) -> Callable[[], None]:
        """:meth:`wait` without a task: ``on_final`` is called once, on the loop, with the
        job once final or with the error that ended the wait (``WaitTimeout``,
        ``ClientClosed``, the job's own error). Returns a function that ends the watch
        without a call (nothing happens if it already ended). A batch waits for thousands of
        jobs at once: a task per wait held a few KB each (measured)."""
        entry = self._enter(job_id, delay)
        watch = _Watch(on_final)
        entry.waiters.append(watch)
        if timeout is not None:
            loop = asyncio.get_running_loop()
            started = loop.time()

            def expire() -> None:
                if self._leave(entry, watch):
                    last = entry.last.status if entry.last else None
                    on_final(WaitTimeout(job_id, loop.time() - started, last))

            watch.timer = loop.call_later(timeout, expire)
        self._ensure_running()
        self._wakeup.set()

        def stop() -> None:
            if watch.timer is not None:
                watch.timer.cancel()
            self._leave(entry, watch)

        return stop

    def _enter(self, job_id: str, delay: float | None) -> _Entry:
        """The job's entry, made (and scheduled) for its first waiter."""
        if self._closed:
            raise ClientClosed(f"the client is closed; cannot wait for job {job_id}")
        entry = self._entries.get(job_id)
        if entry is None:
            entry = _Entry(job_id=job_id)
            self._entries[job_id] = entry
            now = asyncio.get_running_loop().time()
            self._planner.add(job_id, now, delay)
            if job_id in self._early_hints:
                del self._early_hints[job_id]
                self._planner.hint(job_id, now)  # a delivery already said something: read it
        return entry

    def _leave(self, entry: _Entry, waiter: asyncio.Future[Job] | _Watch) -> bool:
        """Take ``waiter`` off the job (False if it was no longer there); the last one to
        leave stops the job's polling."""
        if waiter not in entry.waiters:
            return False
        entry.waiters.remove(waiter)
        if not entry.waiters and self._entries.get(entry.job_id) is entry:
            del self._entries[entry.job_id]
            self._planner.discard(entry.job_id)
        return True

    def hint(self, job_id: str) -> None:
        """A webhook delivery mentioned ``job_id``: read it at the next tick, with other due jobs.

        The delivery's content is not used: only the API's answer ends a wait.
        """
        now = asyncio.get_running_loop().time()
        self.note_delivery()
        entry = self._entries.get(job_id)
        if entry is None:
            self._early_hints[job_id] = None
            self._early_hints.move_to_end(job_id)
            while len(self._early_hints) > EARLY_HINTS:
                self._early_hints.popitem(last=False)
            return
        entry.hints += 1
        self._planner.hint(job_id, now)
        self._wakeup.set()

    def note_delivery(self) -> None:
        """A verified delivery arrived (about any job or upload): deliveries do flow."""
        self._last_delivery = asyncio.get_running_loop().time()

    def _deliveries_arrive(self, now: float) -> bool:
        last = self._last_delivery
        return last is not None and now - last < self.schedule.safety_interval

    @property
    def pending(self) -> int:
        return len(self._entries)

    async def aclose(self) -> None:
        """End every pending wait with ``ClientClosed`` and stop polling.

        Waiters get an error, not a cancellation (their tasks were not cancelled by anyone);
        if the caller of ``aclose`` is cancelled meanwhile, that cancellation propagates.
        """
        self._closed = True
        for entry in list(self._entries.values()):
            self._finish(
                entry, ClientClosed(f"the client was closed while waiting for job {entry.job_id}")
            )
        self._entries.clear()
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])  # raises only the caller's own CancelledError
        if task is not None and task.done() and not task.cancelled():
            task.exception()  # retrieved: a crashed loop must not warn at garbage collection

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="viesus-poller")

    def _finish(self, entry: _Entry, result: Job | BaseException) -> None:
        if isinstance(result, Job):
            self._planner.done(entry.job_id, asyncio.get_running_loop().time())
        else:
            self._planner.discard(entry.job_id)
        waiters, entry.waiters = entry.waiters, []
        self._entries.pop(entry.job_id, None)
        for waiter in waiters:
            if isinstance(waiter, _Watch):
                if waiter.timer is not None:
                    waiter.timer.cancel()
                try:
                    waiter.on_final(result)
                except Exception:  # a watcher's bug must not stop every other wait
                    log.exception("a watcher of job %s failed", entry.job_id)
            elif waiter.done():
                continue
            elif isinstance(result, BaseException):
                waiter.set_exception(result)
            else:
                waiter.set_result(result)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wakeup.clear()
            if not self._entries:
                await self._wakeup.wait()
                continue
            now = loop.time()
            ids, wake_at = self._planner.plan(now)
            if not ids:
                timeout = None if wake_at == math.inf else max(0.0, wake_at - now)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout)
                continue
            await self._poll([self._entries[job_id] for job_id in ids])

    async def _poll(self, batch: list[_Entry]) -> None:
        ids = [e.job_id for e in batch]
        hints_before = {e.job_id: e.hints for e in batch}
        first_looks = sum(1 for job_id in ids if self._planner.is_fresh(job_id))
        loop = asyncio.get_running_loop()
        try:
            results = await self._fetch(ids)
        except AuthenticationError as exc:
            for entry in batch:
                self._finish(entry, exc)
            return
        except Exception as exc:  # keep waiting: the deadline decides, not one bad tick
            log.warning("poll of %d jobs failed (%s); retrying later", len(ids), type(exc).__name__)
            self._planner.failed(ids, loop.time())
            return
        now = loop.time()
        early = waiting = 0
        for entry in batch:
            if self._entries.get(entry.job_id) is not entry:
                continue  # abandoned meanwhile
            result = results.get(entry.job_id)
            if isinstance(result, BaseException):
                self._finish(entry, result)
            elif result is None:
                missing = GraphQLRequestError(f"job {entry.job_id} not found", code="NOT_FOUND")
                self._finish(entry, missing)
            elif is_final(result):
                entry.last = result
                self._finish(entry, result)
            else:
                if result.status == FINISHED:
                    log.info("job %s is FINISHED without a download URL; reading again", result.id)
                entry.last = result
                early += self._planner.is_fresh(entry.job_id)
                waiting += 1
                self._planner.not_done(entry.job_id, now)
                if entry.hints != hints_before[entry.job_id]:
                    self._planner.hint(entry.job_id, now)  # a delivery came during this read
        self._planner.polled(first_looks, early, looks=len(batch), waiting=waiting)
