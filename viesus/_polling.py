"""One poller per client serves every pending wait with as few requests as possible.

Every SDK in the field polls each job on its own fixed interval (one request per job per tick;
the VIESUS docs' example: every 3 s). Here all waits share one loop: each tick sends ONE aliased
query for up to ``batch_size`` jobs, and only for jobs that can have finished: the service works
through jobs roughly in creation order, so :class:`~viesus._poll_planner.PollPlanner` looks at
the head of the queue at the observed pace and leaves the tail alone (the deeper the queue, the
fewer looks per job). When webhooks deliver results, a job is looked at only when its delivery
is overdue (the safety net).

Two timeouts stay apart: the per-request HTTP timeout lives in the transport; the overall wait
deadline lives here and ends in :class:`~viesus._errors.WaitTimeout` carrying the job id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from viesus._errors import AuthenticationError, GraphQLRequestError, WaitTimeout
from viesus._jobs import Job
from viesus._poll_planner import PollPlanner, PollSchedule

log = logging.getLogger("viesus._polling")

# Per job id: the job as read, an error for that alias alone, or None (no such job).
FetchResult = dict[str, Job | BaseException | None]
FetchBatch = Callable[[list[str]], Awaitable[FetchResult]]
# Finished jobs reported before anybody waited for them, remembered for a later wait.
EARLY_RESULTS = 10_000


__all__ = ["FetchBatch", "FetchResult", "PollSchedule", "Poller"]


@dataclass
class _Entry:
    job_id: str
    last: Job | None = None
    waiters: list[asyncio.Future[Job]] = field(default_factory=list)


class Poller:
    """Coalesces the waits of one client into aliased batch queries."""

    def __init__(
        self,
        fetch: FetchBatch,
        *,
        batch_size: int = 50,
        schedule: PollSchedule | None = None,
        webhooks_active: Callable[[], bool] = lambda: False,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._fetch = fetch
        self._planner = PollPlanner(schedule or PollSchedule(), batch_size, webhooks_active)
        self._entries: dict[str, _Entry] = {}
        self._early: OrderedDict[str, Job] = OrderedDict()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.requests_sent = 0  # for logs; tests and benchmarks count at the server

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
        """The job once FINISHED or ERROR. ``delay``: seconds until the first look."""
        early = self._early.pop(job_id, None)
        if early is not None:
            return early  # a webhook told us before anyone waited
        loop = asyncio.get_running_loop()
        entry = self._entries.get(job_id)
        if entry is None:
            entry = _Entry(job_id=job_id)
            self._entries[job_id] = entry
            self._planner.add(job_id, loop.time(), delay)
        future: asyncio.Future[Job] = loop.create_future()
        entry.waiters.append(future)
        self._ensure_running()
        self._wakeup.set()
        started = loop.time()
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            last = entry.last.status if entry.last else None
            raise WaitTimeout(job_id, loop.time() - started, last) from None
        finally:
            if future in entry.waiters:
                entry.waiters.remove(future)
            if not future.done():
                future.cancel()
            if not entry.waiters and self._entries.get(job_id) is entry:
                del self._entries[job_id]
                self._planner.discard(job_id)

    def resolve(self, job: Job) -> bool:
        """Feed a job state seen elsewhere (a webhook, a create answer); True if it woke waits."""
        entry = self._entries.get(job.id)
        if entry is None:
            if job.done:  # e.g. a delivery that beat the create answer: keep it for the wait
                self._early[job.id] = job
                while len(self._early) > EARLY_RESULTS:
                    self._early.popitem(last=False)
            return False
        entry.last = job
        if not job.done:
            return False
        self._finish(entry, job)
        return True

    @property
    def pending(self) -> int:
        return len(self._entries)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for entry in list(self._entries.values()):
            for waiter in entry.waiters:
                if not waiter.done():
                    waiter.cancel()
            self._planner.discard(entry.job_id)
        self._entries.clear()

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="viesus-poller")

    def _finish(self, entry: _Entry, result: Job | BaseException) -> None:
        if isinstance(result, Job):
            self._planner.done(entry.job_id, asyncio.get_running_loop().time())
        else:
            self._planner.discard(entry.job_id)
        for waiter in entry.waiters:
            if waiter.done():
                continue
            if isinstance(result, BaseException):
                waiter.set_exception(result)
            else:
                waiter.set_result(result)
        self._entries.pop(entry.job_id, None)

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
        first_looks = sum(1 for job_id in ids if self._planner.is_fresh(job_id))
        self.requests_sent += 1
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
        early = 0
        for entry in batch:
            if self._entries.get(entry.job_id) is not entry:
                continue  # resolved meanwhile (webhook) or abandoned
            result = results.get(entry.job_id)
            if isinstance(result, BaseException):
                self._finish(entry, result)
            elif result is None:
                missing = GraphQLRequestError(f"job {entry.job_id} not found", code="NOT_FOUND")
                self._finish(entry, missing)
            elif result.done:
                entry.last = result
                self._finish(entry, result)
            else:
                entry.last = result
                early += self._planner.is_fresh(entry.job_id)
                self._planner.not_done(entry.job_id, now)
        self._planner.polled(first_looks, early)
