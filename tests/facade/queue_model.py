"""A modelled VIESUS queue and a fake clock to drive :class:`PollPlanner` on (no real time).

The queue is FIFO with ``slots`` slots; job ``i`` is created at ``created[i]`` and takes
``durations[i]`` once it has a slot. ``simulate`` plays the planner against it event by event
and reports looks per job, requests and detection lag (fake seconds), so tests assert counts.
"""

from __future__ import annotations

import heapq
import math
import statistics
from dataclasses import dataclass

from viesus._poll_planner import PollPlanner, PollSchedule


def finish_times(created: list[float], durations: list[float], slots: int) -> list[float]:
    """When each job ends in a FIFO queue of ``slots`` slots."""
    free = [0.0] * slots
    ends = []
    for start_at, duration in zip(created, durations, strict=True):
        start = max(start_at, heapq.heappop(free))
        heapq.heappush(free, start + duration)
        ends.append(start + duration)
    return ends


@dataclass
class Outcome:
    jobs: int
    requests: int
    looks: int
    lags: list[float]

    @property
    def looks_per_job(self) -> float:
        return self.looks / self.jobs

    @property
    def lag_p95(self) -> float:
        return statistics.quantiles(self.lags, n=20)[-1] if len(self.lags) > 1 else self.lags[0]


def simulate(
    created: list[float],
    durations: list[float],
    slots: int,
    *,
    schedule: PollSchedule | None = None,
    batch_size: int = 50,
    latency: float = 0.05,
    webhooks: bool = False,
    lost_deliveries: frozenset[int] = frozenset(),
) -> Outcome:
    """Run the planner until every job is seen done; ``latency``: seconds per poll request.

    With ``webhooks`` every job's end is delivered at once (except ``lost_deliveries``) as a
    hint, as the client's webhook receiver feeds the poller; the read that follows ends it.
    """
    ends = finish_times(created, durations, slots)
    planner = PollPlanner(schedule or PollSchedule(), batch_size, lambda now: webhooks)
    ids = [f"j{i}" for i in range(len(created))]
    index = {job_id: i for i, job_id in enumerate(ids)}
    seen: dict[str, float] = {}
    looks = requests = 0
    next_created = 0
    deliveries = sorted(
        (end, i) for i, end in enumerate(ends) if webhooks and i not in lost_deliveries
    )
    next_delivery = 0
    now = 0.0
    wake = math.inf
    while len(seen) < len(ids):
        upcoming = [wake]
        if next_created < len(created):
            upcoming.append(created[next_created])
        if next_delivery < len(deliveries):
            upcoming.append(deliveries[next_delivery][0])
        now = max(now, min(upcoming))
        assert now < 1e7, "the planner stopped looking"
        while next_created < len(created) and created[next_created] <= now:
            planner.add(ids[next_created], now)
            next_created += 1
        while next_delivery < len(deliveries) and deliveries[next_delivery][0] <= now:
            job_id = ids[deliveries[next_delivery][1]]
            if job_id not in seen and next_created > deliveries[next_delivery][1]:
                planner.hint(job_id, now)
            next_delivery += 1
        batch, wake = planner.plan(now)
        if not batch:
            continue
        requests += 1
        looks += len(batch)
        now += latency
        first_looks = sum(planner.is_fresh(job_id) for job_id in batch)
        early = waiting = 0
        for job_id in batch:
            if ends[index[job_id]] <= now - latency / 2:  # the server answered mid-request
                planner.done(job_id, now)
                seen[job_id] = now
            else:
                early += planner.is_fresh(job_id)
                waiting += 1
                planner.not_done(job_id, now)
        planner.polled(first_looks, early, looks=len(batch), waiting=waiting)
        wake = now
    lags = [seen[job_id] - ends[index[job_id]] for job_id in ids]
    return Outcome(jobs=len(ids), requests=requests, looks=looks, lags=lags)


def pipeline_creation(count: int, batch: int = 25, every: float = 0.2) -> list[float]:
    """Creation times as the facade's waves make them: ``batch`` jobs per create request."""
    return [(i // batch) * every for i in range(count)]
