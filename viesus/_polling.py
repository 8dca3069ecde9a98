"""One poller per client serves every pending wait with as few requests as possible.

Every SDK in the field polls each job on its own fixed interval (one request per job per tick;
the VIESUS docs' example: every 3 s). Here all waits share one loop: each tick sends ONE aliased
query for up to ``batch_size`` jobs that are due, and jobs that would be due soon ride along to
fill the batch. The schedule is fitted to the documented 2-180 s processing time: the first look
about 2 s after creation, then intervals growing by ``factor`` up to ``cap``, each with jitter so
thousands of clients do not synchronise. When webhooks deliver results, polling drops to a slow
safety interval for deliveries that never arrive.

Two timeouts stay apart: the per-request HTTP timeout lives in the transport; the overall wait
deadline lives here and ends in :class:`~viesus._errors.WaitTimeout` carrying the job id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from viesus._errors import AuthenticationError, GraphQLRequestError, WaitTimeout
from viesus._jobs import Job

log = logging.getLogger("viesus._polling")

# Per job id: the job as read, an error for that alias alone, or None (no such job).
FetchResult = dict[str, Job | BaseException | None]
FetchBatch = Callable[[list[str]], Awaitable[FetchResult]]
# Finished jobs reported before anybody waited for them, remembered for a later wait.
EARLY_RESULTS = 10_000


@dataclass(frozen=True)
class PollSchedule:
    """When to look at a job again. Times in seconds."""

    first: float = 2.0
    factor: float = 1.5
    cap: float = 15.0
    jitter: float = 0.2
    safety_interval: float = 60.0
    error_backoff: float = 5.0
    # A job due within this fraction of its interval may ride along in a non-full batch.
    fill_ahead: float = 0.5

    def interval(self, attempt: int) -> float:
        """Delay before look number ``attempt + 1`` (attempt 0 is the first look)."""
        base = self.first if attempt == 0 else min(self.cap, self.first * self.factor**attempt)
        return base * random.uniform(1 - self.jitter, 1 + self.jitter)  # noqa: S311 - jitter


@dataclass
class _Entry:
    job_id: str
    due: float
    attempt: int = 0
    interval: float = 0.0
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
        self.batch_size = batch_size
        self.schedule = schedule or PollSchedule()
        self._webhooks_active = webhooks_active
        self._entries: dict[str, _Entry] = {}
        self._early: OrderedDict[str, Job] = OrderedDict()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.requests_sent = 0  # for logs and benchmarks; tests count at the server

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
            first = self.schedule.interval(0) if delay is None else delay
            if self._webhooks_active():
                first = max(first, self.schedule.safety_interval)  # deliveries come first
            entry = _Entry(job_id=job_id, due=loop.time() + first, interval=first)
            self._entries[job_id] = entry
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
        self._entries.clear()

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="viesus-poller")

    def _finish(self, entry: _Entry, result: Job | BaseException) -> None:
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
            batch = self._pick(now)
            if not batch:
                next_due = min(e.due for e in self._entries.values())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), max(0.0, next_due - now))
                continue
            await self._poll(batch)

    def _pick(self, now: float) -> list[_Entry]:
        ordered = sorted(self._entries.values(), key=lambda e: e.due)
        due = [e for e in ordered if e.due <= now][: self.batch_size]
        if not due:
            return []
        if len(due) < self.batch_size:
            ahead = self.schedule.fill_ahead
            extra = [e for e in ordered if e.due > now and e.due - now <= e.interval * ahead]
            due.extend(extra[: self.batch_size - len(due)])
        return due

    async def _poll(self, batch: list[_Entry]) -> None:
        ids = [e.job_id for e in batch]
        self.requests_sent += 1
        try:
            results = await self._fetch(ids)
        except AuthenticationError as exc:
            for entry in batch:
                self._finish(entry, exc)
            return
        except Exception as exc:  # keep waiting: the deadline decides, not one bad tick
            log.warning("poll of %d jobs failed (%s); retrying later", len(ids), type(exc).__name__)
            loop = asyncio.get_running_loop()
            for entry in batch:
                entry.due = loop.time() + self.schedule.error_backoff
            return
        loop = asyncio.get_running_loop()
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
                entry.attempt += 1
                interval = self.schedule.interval(entry.attempt)
                if self._webhooks_active():
                    interval = max(interval, self.schedule.safety_interval)
                entry.interval = interval
                entry.due = loop.time() + interval
