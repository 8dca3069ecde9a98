"""A modelled VIESUS queue and a fake clock to drive :class:`PollPlanner` on (no real time).

The queue has ``slots`` slots; job ``i`` is created at ``created[i]`` and takes
``durations[i]`` once it has a slot. FIFO by default; ``ready[i]`` delays when a job may start
(the service fetching a URL source), ``reorder`` lets the service take jobs out of creation
order (a queued job is taken up to that many places early or late), and ``stalls`` are spans
of time in which the service starts and ends nothing (a job due to end in one ends when it
ends). Durations that change during a run model a pace that changes. ``simulate`` plays the
planner against it event by event and reports looks per job, requests and detection lag (fake
seconds), so tests assert counts.
"""

from __future__ import annotations

import heapq
import math
import random
import statistics
from dataclasses import dataclass

from viesus._poll_planner import PollPlanner, PollSchedule


def finish_times(
    created: list[float],
    durations: list[float],
    slots: int,
    *,
    ready: list[float] | None = None,
    reorder: float = 0.0,
    stalls: tuple[tuple[float, float], ...] | list[tuple[float, float]] = (),
    rng: random.Random | None = None,
) -> list[float]:
    """When each job ends (FIFO of ``slots`` slots unless ``reorder``; see the module)."""
    rng = rng or random.Random(0)
    startable = [c + (ready[i] if ready else 0.0) for i, c in enumerate(created)]
    by_time = sorted(range(len(created)), key=lambda i: startable[i])
    place = {
        i: n + (rng.uniform(-reorder, reorder) if reorder else 0.0) for n, i in enumerate(by_time)
    }
    order = sorted(range(len(created)), key=lambda i: place[i])
    free = [0.0] * slots
    ends = [0.0] * len(created)
    for i in order:
        start = _after_stalls(max(startable[i], heapq.heappop(free)), stalls)
        end = _after_stalls(start + durations[i], stalls)
        heapq.heappush(free, end)
        ends[i] = end
    return ends


def _after_stalls(
    moment: float, stalls: tuple[tuple[float, float], ...] | list[tuple[float, float]]
) -> float:
    for begin, end in stalls:
        if begin <= moment < end:
            return end
    return moment


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
    ready: list[float] | None = None,
    reorder: float = 0.0,
    stalls: tuple[tuple[float, float], ...] | list[tuple[float, float]] = (),
    rng: random.Random | None = None,
) -> Outcome:
    """Run the planner until every job is seen done; ``latency``: seconds per poll request.

    With ``webhooks`` every job's end is delivered at once (except ``lost_deliveries``) as a
    hint, as the client's webhook receiver feeds the poller; the read that follows ends it.
    """
    ends = finish_times(
        created, durations, slots, ready=ready, reorder=reorder, stalls=stalls, rng=rng
    )
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


def waves(
    count: int, per_wave: int, every: float, batch: int = 50, gap: float = 0.2
) -> list[float]:
    """Creation in waves of ``per_wave`` jobs every ``every`` seconds (``batch`` per create
    request): measured in the outside harness with URL sources, where the queue drains
    between waves (``benchmarks/outside.py``; 100 jobs every ~3.5 real s at 16 slots)."""
    return [(i // per_wave) * every + ((i % per_wave) // batch) * gap for i in range(count)]
