"""The coalescing poller with a fake fetch: batching, schedule, deadlines, per-job errors."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools

import pytest

from viesus._errors import (
    AuthenticationError,
    ClientClosed,
    GraphQLRequestError,
    ServerError,
    ViesusError,
    WaitTimeout,
)
from viesus._jobs import Job
from viesus._polling import FetchResult, OnFinal, Poller, PollSchedule

FAST = PollSchedule(first=0.01, factor=1.5, cap=0.05, jitter=0.2, error_backoff=0.01, max_hold=0.02)


class FakeService:
    """Jobs that finish after a number of looks; records each fetch's batch."""

    def __init__(self, looks_needed: dict[str, int]) -> None:
        self.looks_needed = looks_needed
        self.looks: dict[str, int] = dict.fromkeys(looks_needed, 0)
        self.batches: list[list[str]] = []
        self.fail_next: BaseException | None = None
        self.per_job_error: dict[str, BaseException] = {}

    async def fetch(self, ids: list[str]) -> FetchResult:
        self.batches.append(list(ids))
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        result: FetchResult = {}
        for job_id in ids:
            if job_id in self.per_job_error:
                result[job_id] = self.per_job_error[job_id]
                continue
            if job_id not in self.looks:
                result[job_id] = None
                continue
            self.looks[job_id] += 1
            done = self.looks[job_id] >= self.looks_needed[job_id]
            result[job_id] = Job(
                id=job_id,
                status="FINISHED" if done else "QUEUED",
                full_url="http://x/y" if done else None,
            )
        return result


class QueuedService:
    """A FIFO queue with ``slots`` slots of ``duration`` each (real, small times)."""

    def __init__(self, count: int, slots: int, duration: float) -> None:
        self.ids = [f"j{i}" for i in range(count)]
        self.start = asyncio.get_running_loop().time()
        self.ends = {j: self.start + duration * (1 + i // slots) for i, j in enumerate(self.ids)}
        self.batches: list[list[str]] = []

    async def fetch(self, ids: list[str]) -> FetchResult:
        self.batches.append(list(ids))
        now = asyncio.get_running_loop().time()
        return {
            j: Job(id=j, status="FINISHED", full_url="http://x/y")
            if self.ends[j] <= now
            else Job(id=j, status="QUEUED")
            for j in ids
        }


async def test_many_waits_share_few_requests() -> None:
    service = QueuedService(200, slots=8, duration=0.03)
    schedule = PollSchedule().scaled(0.01)
    poller = Poller(service.fetch, batch_size=50, schedule=schedule)
    try:
        jobs = await asyncio.gather(*(poller.wait(j, timeout=30) for j in service.ids))
    finally:
        await poller.aclose()
    assert all(j.finished for j in jobs)
    assert max(len(b) for b in service.batches) <= 50
    looks = sum(len(b) for b in service.batches)
    # Head-of-queue polling: about one look per job (per-job timers needed ~5 here) ...
    assert looks <= 2.5 * len(service.ids)
    # ... shared by few requests.
    assert len(service.batches) <= looks / 4


async def test_one_job_waited_twice_is_polled_once_per_tick() -> None:
    service = FakeService({"a": 3})
    poller = Poller(service.fetch, batch_size=10, schedule=FAST)
    try:
        first, second = await asyncio.gather(
            poller.wait("a", timeout=5), poller.wait("a", timeout=5)
        )
    finally:
        await poller.aclose()
    assert first == second
    assert all(batch.count("a") == 1 for batch in service.batches)


async def test_deadline_raises_wait_timeout_with_the_job_id() -> None:
    service = FakeService({"slow": 10_000})
    poller = Poller(service.fetch, schedule=FAST)
    try:
        with pytest.raises(WaitTimeout) as info:
            await poller.wait("slow", timeout=0.1)
    finally:
        await poller.aclose()
    assert info.value.job_id == "slow"
    assert info.value.last_status == "QUEUED"
    assert poller.pending == 0


async def test_error_on_one_alias_fails_that_job_only() -> None:
    service = FakeService({"ok": 2, "bad": 2})
    service.per_job_error["bad"] = GraphQLRequestError("boom", code="INTERNAL")
    poller = Poller(service.fetch, schedule=FAST)
    try:
        ok, bad = await asyncio.gather(
            poller.wait("ok", timeout=5), poller.wait("bad", timeout=5), return_exceptions=True
        )
    finally:
        await poller.aclose()
    assert isinstance(ok, Job)
    assert ok.finished
    assert isinstance(bad, GraphQLRequestError)


async def test_unknown_job_is_not_found() -> None:
    poller = Poller(FakeService({}).fetch, schedule=FAST)
    try:
        with pytest.raises(GraphQLRequestError, match="not found"):
            await poller.wait("ghost", timeout=5)
    finally:
        await poller.aclose()


async def test_request_failure_backs_off_and_keeps_waiting() -> None:
    service = FakeService({"a": 1})
    service.fail_next = ServerError("HTTP 503 after retries", 503)
    poller = Poller(service.fetch, schedule=FAST)
    try:
        job = await poller.wait("a", timeout=5)
    finally:
        await poller.aclose()
    assert job.finished
    assert len(service.batches) == 2


async def test_authentication_failure_ends_the_wait() -> None:
    service = FakeService({"a": 1})
    service.fail_next = AuthenticationError("bad key")
    poller = Poller(service.fetch, schedule=FAST)
    try:
        with pytest.raises(AuthenticationError):
            await poller.wait("a", timeout=5)
    finally:
        await poller.aclose()


async def test_a_hint_reads_the_job_at_once() -> None:
    service = FakeService({"a": 1})
    poller = Poller(service.fetch, schedule=PollSchedule(first=30.0))
    try:
        waiting = asyncio.create_task(poller.wait("a", timeout=5))
        await asyncio.sleep(0.01)
        assert service.batches == []
        poller.hint("a")
        job = await waiting
    finally:
        await poller.aclose()
    assert job.finished
    assert service.batches == [["a"]]


async def test_hints_for_several_jobs_are_read_in_one_request() -> None:
    service = FakeService(dict.fromkeys("abc", 1))
    poller = Poller(service.fetch, schedule=PollSchedule(first=30.0))
    try:
        waits = [asyncio.create_task(poller.wait(j, timeout=5)) for j in "abc"]
        await asyncio.sleep(0.01)
        for job_id in "abc":
            poller.hint(job_id)
        jobs = await asyncio.gather(*waits)
    finally:
        await poller.aclose()
    assert all(job.finished for job in jobs)
    assert service.batches == [["a", "b", "c"]]


async def test_a_hint_arriving_during_a_read_asks_for_another_read() -> None:
    """The read may have been answered before the job finished; the hint must not be lost."""
    release = asyncio.Event()
    reads: list[str] = []

    async def fetch(ids: list[str]) -> FetchResult:
        reads.append(ids[0])
        if len(reads) == 1:
            await release.wait()  # the hint arrives while this read is in flight
            return {"a": Job(id="a", status="PROCESSING")}
        return {"a": Job(id="a", status="FINISHED", full_url="http://x/y")}

    poller = Poller(fetch, schedule=PollSchedule(first=0.0, factor=1.0, cap=30.0, jitter=0.0))
    try:
        waiting = asyncio.create_task(poller.wait("a", timeout=5, delay=0.0))
        while not reads:  # noqa: ASYNC110 - the fake has no event for "read started"
            await asyncio.sleep(0.001)
        poller.hint("a")
        release.set()
        job = await waiting
    finally:
        await poller.aclose()
    assert job.finished
    assert reads == ["a", "a"]


async def test_a_hint_before_the_wait_makes_the_first_look_immediate() -> None:
    """A delivery can beat the create answer: the later wait reads at once, not in 30 s."""
    service = FakeService({"a": 1})
    poller = Poller(service.fetch, schedule=PollSchedule(first=30.0))
    try:
        poller.hint("a")
        job = await poller.wait("a", timeout=2)
    finally:
        await poller.aclose()
    assert job.finished
    assert service.batches == [["a"]]


async def test_finished_without_a_download_url_is_read_again() -> None:
    answers = iter(
        [
            Job(id="a", status="FINISHED"),
            Job(id="a", status="FINISHED"),
            Job(id="a", status="FINISHED", full_url="http://x/y"),
        ]
    )

    async def fetch(ids: list[str]) -> FetchResult:
        return {"a": next(answers)}

    poller = Poller(fetch, schedule=FAST)
    try:
        job = await poller.wait("a", timeout=5)
    finally:
        await poller.aclose()
    assert job.full_url == "http://x/y"


async def test_polling_slows_only_while_deliveries_arrive() -> None:
    service = FakeService({"a": 1, "b": 1})
    poller = Poller(service.fetch, schedule=PollSchedule(first=0.01, safety_interval=30.0))
    try:
        assert (await poller.wait("a", timeout=2)).finished  # no delivery yet: normal schedule
        poller.note_delivery()
        with pytest.raises(WaitTimeout):
            await poller.wait("b", timeout=0.2)  # deliveries arrive: the safety interval
    finally:
        await poller.aclose()
    assert service.batches == [["a"]]


async def test_aclose_ends_waits_with_a_viesus_error_not_a_cancellation() -> None:
    service = FakeService({"a": 10_000})
    poller = Poller(service.fetch, schedule=PollSchedule(first=30.0))
    waiting = asyncio.create_task(poller.wait("a", timeout=5))
    await asyncio.sleep(0.01)

    await poller.aclose()

    with pytest.raises(ClientClosed, match="job a"):
        await waiting
    assert not waiting.cancelled()
    assert isinstance(waiting.exception(), ViesusError)
    with pytest.raises(ClientClosed):
        await poller.wait("b", timeout=1)


async def test_aclose_lets_its_callers_cancellation_through() -> None:
    """The poller's loop takes a moment to stop; cancelling ``aclose`` then must cancel it."""
    in_fetch = asyncio.Event()

    async def slow_to_stop(ids: list[str]) -> FetchResult:
        in_fetch.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.sleep(0.2)  # cleanup of an interrupted request
            raise
        return {}

    poller = Poller(slow_to_stop, schedule=PollSchedule(first=0.0))
    waiting = asyncio.create_task(poller.wait("a", timeout=5))
    await in_fetch.wait()
    closing = asyncio.create_task(poller.aclose())
    await asyncio.sleep(0.02)

    closing.cancel()

    with pytest.raises(asyncio.CancelledError):
        await closing
    assert closing.cancelled()
    with pytest.raises(ClientClosed):
        await waiting


def test_schedule_grows_to_the_cap_with_bounded_jitter() -> None:
    schedule = PollSchedule(first=2.0, factor=1.5, cap=30.0, jitter=0.2)
    for attempt, base in zip(itertools.count(), [2.0, 3.0, 4.5, 6.75, 10.125]):
        assert base * 0.8 <= schedule.interval(attempt) <= base * 1.2
    assert schedule.interval(50) <= 36.0


# --- waits held as records (``watch``): a batch's whole queue waits without a task each -----


def recorder() -> tuple[list[Job | BaseException], asyncio.Event, OnFinal]:
    calls: list[Job | BaseException] = []
    called = asyncio.Event()

    def on_final(outcome: Job | BaseException) -> None:
        calls.append(outcome)
        called.set()

    return calls, called, on_final


async def test_a_watch_is_called_once_with_the_final_job_and_shares_requests_with_waits() -> None:
    service = FakeService({"a": 2, "b": 2})
    # No jitter: with it the two first looks could fall more than a young job's hold apart
    # (a third of 10 ms) and go out in two requests (1 run in ~12 under load).
    poller = Poller(service.fetch, schedule=dataclasses.replace(FAST, jitter=0.0))
    calls, called, on_final = recorder()
    tasks_before = len(asyncio.all_tasks())

    poller.watch("a", on_final)
    assert len(asyncio.all_tasks()) <= tasks_before + 1  # the poller's loop, no task per watch
    waited = await poller.wait("b")
    await asyncio.wait_for(called.wait(), 5)
    await asyncio.sleep(0.05)

    assert waited.status == "FINISHED"
    assert len(calls) == 1
    assert isinstance(calls[0], Job)
    assert calls[0].id == "a"
    assert all(set(batch) == {"a", "b"} for batch in service.batches)  # one request for both
    assert poller.pending == 0
    await poller.aclose()


async def test_a_stopped_watch_is_not_called_and_its_job_is_no_longer_polled() -> None:
    service = FakeService({"a": 1_000})
    poller = Poller(service.fetch, schedule=FAST)
    calls, _, on_final = recorder()

    stop = poller.watch("a", on_final)
    await asyncio.sleep(0.1)
    stop()
    looks = service.looks["a"]
    await asyncio.sleep(0.1)
    stop()  # twice: nothing happens

    assert looks > 0
    assert service.looks["a"] == looks
    assert calls == []
    assert poller.pending == 0
    await poller.aclose()


async def test_a_watch_times_out_with_the_job_id_and_closing_ends_the_others() -> None:
    service = FakeService({"slow": 1_000, "other": 1_000})
    poller = Poller(service.fetch, schedule=FAST)
    slow, slow_called, on_slow = recorder()
    other, _, on_other = recorder()

    poller.watch("slow", on_slow, timeout=0.05)
    poller.watch("other", on_other)
    await asyncio.wait_for(slow_called.wait(), 5)
    await poller.aclose()

    assert len(slow) == 1
    assert isinstance(slow[0], WaitTimeout)
    assert "slow" in str(slow[0])
    assert len(other) == 1
    assert isinstance(other[0], ClientClosed)
    with pytest.raises(ClientClosed):
        poller.watch("late", on_other)


async def test_a_watcher_that_raises_does_not_stop_the_other_waits() -> None:
    service = FakeService({"a": 1, "b": 1})
    poller = Poller(service.fetch, schedule=FAST)

    def broken(outcome: Job | BaseException) -> None:
        raise RuntimeError("bug in a watcher")

    poller.watch("a", broken)
    waited = await asyncio.wait_for(poller.wait("b"), 5)

    assert waited.id == "b"
    await poller.aclose()
