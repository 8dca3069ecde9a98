"""Which waiting jobs to look at, and when: the head of the queue, never the tail.

From the measured pace (completions per second) it predicts which jobs can be done, looks at
those, holds a due job briefly for company, and bounds every job by a deadline. The model and
its assumptions: docs/DESIGN.md.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

INFINITY = math.inf
# Every decision at DEBUG, one JSON object a line (``benchmarks/outside.py`` reads them back);
# nothing is formatted unless that level is on.
log = logging.getLogger("viesus._poll_planner")


@dataclass(frozen=True)
class PollSchedule:
    """The poller's model and knobs. Times in seconds (service seconds, see :meth:`scaled`)."""

    #: Documented minimum processing time: no job is looked at sooner after its creation.
    first: float = 2.0
    #: Per-job schedule after an early look: intervals grow by ``factor`` up to ``cap``.
    factor: float = 1.5
    cap: float = 15.0
    jitter: float = 0.2
    #: With webhooks: how long after its predicted end a job without delivery is looked at.
    safety_interval: float = 60.0
    error_backoff: float = 5.0
    #: A due job waits at most this long for more due jobs to share its request.
    max_hold: float = 10.0
    #: A job a webhook delivery mentioned waits at most this long for company.
    hint_hold: float = 1.0
    #: Oldest jobs looked at before any completion has shown the pace.
    probe: int = 16
    #: Completions are counted over this trailing window to measure the pace.
    rate_window: float = 60.0

    def interval(self, attempt: int) -> float:
        """Delay before look number ``attempt + 1`` of the per-job schedule (attempt 0: first)."""
        base = self.first if attempt == 0 else min(self.cap, self.first * self.factor**attempt)
        return base * random.uniform(1 - self.jitter, 1 + self.jitter)  # noqa: S311 - jitter

    def scaled(self, factor: float) -> PollSchedule:
        """Every time multiplied by ``factor``: for an emulator running at ``--time-scale``."""
        return replace(
            self,
            first=self.first * factor,
            cap=self.cap * factor,
            safety_interval=self.safety_interval * factor,
            error_backoff=self.error_backoff * factor,
            max_hold=self.max_hold * factor,
            hint_hold=self.hint_hold * factor,
            rate_window=self.rate_window * factor,
        )


@dataclass
class _Plan:
    seq: int  # creation order (order of the first wait)
    not_before: float  # per-job schedule: no look before this time
    added: float  # when the wait began (about the job's creation)
    looks: int = 0  # looks that found the job not done
    hinted: bool = False  # a delivery mentioned it: read at ``not_before``, no prediction
    # Looked at by then whatever the predictions say (see DEADLINE_FACTOR); set at the first
    # prediction, moved on by every look that finds the job waiting.
    deadline: float = INFINITY


# Optimism: the pace is multiplied by this; grows while polls find every job done, falls fast
# on misses. The pace is counted from the completions polls see, so it can only be underrated
# by too few polls: optimism up to 8x undoes that within three polls; a miss takes most of it
# back at once (tuned in tests/facade/queue_model.py; see test_poll_planner.py).
OPTIMISM_START = 1.2
OPTIMISM_MIN = 1.0
OPTIMISM_MAX = 8.0
OPTIMISM_UP = 2.0  # every look found its job done: search further, fast
OPTIMISM_DOWN = 4.0
# More than this share of first looks early: the pace is overrated.
MISS_SHARE = 0.25
# A due job waits for company at most this share of its age (capped by ``max_hold``), and no
# longer than the measured pace takes to make this share of a batch due.
HOLD_SHARE = 0.33
HOLD_FILL = 0.5
# First looks come no sooner than this share of the quickest job seen (detection makes that
# quickest a little slow; jobs vary a little).
QUICKEST_SHARE = 0.9
# The worst case is bounded per job: a job is looked at no later than this many times its
# first predicted wait after its creation, and after a look that found it waiting no later
# than its age times DEADLINE_SHARE (at least ``cap``) later. A pace that collapses, a job the
# service takes out of order or a stall then costs looks that grow geometrically (a few per
# job), and a detection lag bounded by the job's own age, not by the queue's.
DEADLINE_FACTOR = 4.0
DEADLINE_SHARE = 1.0
# The pace counts the completions of the trailing ``rate_window``, or the last this many if
# the window holds fewer. A slow service (jobs of minutes on few slots) ends a job every
# half minute and the first ones together: a minute held a burst or nothing, the pace swung
# 0.6-3x the true one and jobs waited for deadlines of their age (queue model: lag p95 of
# 19-33 minutes at 4 slots, 100-180 s jobs; 40-65 s now, see test_poll_planner.py).
PACE_COMPLETIONS = 8
# The probe of the oldest unseen job comes every ``cap`` or this many of the pace's gaps
# between completions, whichever is longer (a slow queue was probed every 15 s).
PROBE_GAPS = 2.0
# A job a look found waiting is looked at again no sooner than one of the pace's gaps later:
# on a slow queue the per-job schedule (2-15 s) re-looked a job many times per completion
# (queue model, 100-180 s jobs on 4 slots: 4.6 -> 3.6 looks per job, same lag).
REPEAT_GAPS = 1.0
# The frontier runs ahead of its last calibration (a completion seen) for at most ``cap`` or
# this many of the pace's gaps, whichever is longer. In a stall nothing is seen done, the pace
# is not measured again, and the frontier ran on at the old pace, making every job due in
# turn: 2.2 looks per job for a 60 s stall at 16 slots, 13 for five minutes; 1.5 / 2.7 now.
EXTRAPOLATE_GAPS = 8.0


class PollPlanner:
    """Decides each tick which jobs one aliased poll should carry (see the module docstring)."""

    def __init__(
        self,
        schedule: PollSchedule,
        batch_size: int,
        deliveries_arrive: Callable[[float], bool] = lambda now: False,
    ) -> None:
        self.schedule = schedule
        self.batch_size = batch_size
        self._deliveries_arrive = deliveries_arrive
        self._fresh: dict[str, _Plan] = {}  # never looked at; insertion order = creation order
        self._looked: dict[str, _Plan] = {}  # looked at, not done yet
        self._seq = 0
        self._done_at: deque[float] = deque()
        self._last_done_at: float | None = None  # newest completion that left the window
        self._last_first_look = 0.0  # when a poll last carried a job never looked at
        # The quickest a job of this busy period was seen done after its wait began: jobs like
        # these take at least about that long, so no first look comes sooner.
        self._quickest = INFINITY
        self._busy_since = 0.0
        self._highest_done = -1
        self._frontier = 0.0  # in sequence numbers, at time _frontier_at
        self._frontier_at = 0.0
        self._stale = False  # something was observed since the frontier was calibrated
        self._observed_at = 0.0  # time of the last observation (a look or a completion)
        self._pace: float | None = None  # as of the last calibration
        self.optimism = OPTIMISM_START
        # Deadlines of fresh jobs, soonest first (entries of jobs no longer fresh are stale):
        # the scan of fresh jobs stops at the horizon, a deadline beyond it still counts.
        self._deadlines: list[tuple[float, int, str]] = []

    # --- what happened ---------------------------------------------------------------------
    def add(self, job_id: str, now: float, delay: float | None = None) -> None:
        """A job to wait for; ``delay``: seconds until its first look at the earliest."""
        if job_id in self._fresh or job_id in self._looked:
            return
        if not self._fresh and not self._looked:
            # A new busy period. The pace and the quickest job seen are kept: the service is
            # the same. Counting the pace from now with the completions of the trailing window
            # still counted made it look tens of times faster after every idle moment
            # (measured in benchmarks/outside.py: 939 of 1,000 first looks early, 2.47 looks
            # per job), so the count starts anew only once the window is empty.
            self._last_first_look = now
            # The optimism is about the last queue's frontier: its tail, all done, raised it
            # to the top, and a new wave started from there looked at 50 jobs at once, all
            # early (measured in benchmarks/outside.py).
            self.optimism = OPTIMISM_START
            if not self._done_at or now - self._done_at[-1] >= self.schedule.rate_window:
                self._busy_since = now
            self._frontier, self._frontier_at = float(self._seq), now
        first = self.schedule.interval(0) if delay is None else delay
        if delay is None and self._deliveries_arrive(now):
            first = max(first, self.schedule.safety_interval)  # deliveries come first
        plan = _Plan(self._seq, now + first, now)
        self._fresh[job_id] = plan
        self._seq += 1
        if self._pace is not None and not self._deliveries_arrive(now):
            self._set_deadline(
                job_id, plan, max(plan.not_before, self._predicted(plan.seq, self._pace, now))
            )

    def discard(self, job_id: str) -> None:
        """Nobody waits for the job any more."""
        self._fresh.pop(job_id, None)
        self._looked.pop(job_id, None)

    def hint(self, job_id: str, now: float) -> None:
        """A delivery mentioned the job: read it now (coalesced for at most ``hint_hold``)."""
        plan = self._fresh.pop(job_id, None) or self._looked.get(job_id)
        if plan is None:
            return
        plan.hinted = True
        plan.not_before = now  # its hold runs from the delivery
        self._looked[job_id] = plan

    def done(self, job_id: str, now: float) -> None:
        """The job ended (seen by a poll, a webhook or a create answer)."""
        plan = self._fresh.pop(job_id, None) or self._looked.pop(job_id, None)
        if plan is None:
            return
        self._done_at.append(now)
        self._highest_done = max(self._highest_done, plan.seq)
        if not plan.hinted:
            self._quickest = min(self._quickest, now - plan.added)
        self._stale, self._observed_at = True, now

    def not_done(self, job_id: str, now: float) -> None:
        """A look found the job still waiting: back to the per-job schedule."""
        plan = self._fresh.pop(job_id, None) or self._looked.get(job_id)
        if plan is None:
            return
        plan.looks += 1
        plan.hinted = False
        plan.deadline = now + max(self.schedule.cap, DEADLINE_SHARE * (now - plan.added))
        interval = self.schedule.interval(plan.looks)
        if self._pace:
            interval = max(interval, REPEAT_GAPS / self._pace)
        if self._deliveries_arrive(now):
            interval = max(interval, self.schedule.safety_interval)
        plan.not_before = now + interval
        self._looked[job_id] = plan
        # No recalibration: the frontier moves with completions. Re-anchoring it at every early
        # look would let one slow job at the head starve every job behind it.

    def failed(self, job_ids: list[str], now: float) -> None:
        """The poll carrying these jobs failed as a whole: look again after a pause."""
        for job_id in job_ids:
            plan = self._fresh.get(job_id) or self._looked.get(job_id)
            if plan is not None:
                plan.not_before = now + self.schedule.error_backoff

    def polled(self, first_looks: int, early: int, *, looks: int = 0, waiting: int = 0) -> None:
        """Tune optimism after a poll: ``early`` of its ``first_looks`` found the job waiting;
        ``waiting`` of all its ``looks`` (first or not) found the job not done.

        A poll that found every job done says the queue is further than predicted, whatever
        it carried: the pace is counted from the completions the polls see, so polls that come
        too rarely see too few and would keep the pace as low as they found it (measured in
        the queue model: 100 jobs on 16 slots detected ~30 s late in 2 % of runs)."""
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s",
                json.dumps(
                    {
                        "event": "answer",
                        "first_looks": first_looks,
                        "early": early,
                        "looks": looks,
                        "waiting": waiting,
                        "optimism": self.optimism,
                    }
                ),
            )
        if looks and not waiting:
            self.optimism = min(OPTIMISM_MAX, self.optimism * OPTIMISM_UP)
            return
        if first_looks == 0:
            # Looks again at jobs the frontier said were due: many still waiting says the
            # frontier runs ahead (jobs ending out of creation order lift the newest job seen
            # done; the optimism did the rest), as a first look that comes early does.
            if waiting > looks * MISS_SHARE:
                self.optimism = max(OPTIMISM_MIN, self.optimism / OPTIMISM_DOWN)
            return
        if early == 0:
            self.optimism = min(OPTIMISM_MAX, self.optimism * OPTIMISM_UP)
        elif early > first_looks * MISS_SHARE:
            self.optimism = max(OPTIMISM_MIN, self.optimism / OPTIMISM_DOWN)

    def is_fresh(self, job_id: str) -> bool:
        return job_id in self._fresh

    @property
    def pending(self) -> int:
        return len(self._fresh) + len(self._looked)

    # --- what to do ------------------------------------------------------------------------
    def pace(self, now: float) -> float | None:
        """Completions per second over the trailing window up to ``now``; None without any.

        Measured at observations only (see :meth:`plan`): between two looks no news is not
        evidence of a slower queue, and a pace falling with the clock would push every
        prediction ahead of the clock forever.
        """
        window = self.schedule.rate_window
        while len(self._done_at) > PACE_COMPLETIONS and self._done_at[0] < now - window:
            self._last_done_at = self._done_at.popleft()
        if self._done_at and self._done_at[-1] < now - window:  # nothing new for a window
            self._last_done_at = self._done_at[-1]
            self._done_at.clear()
        if not self._done_at:
            if self._last_done_at is None:
                return None
            # Nothing ended within the window: at most one per that long (slow jobs ahead).
            return 1.0 / max(now - self._last_done_at, self.schedule.first / 2)
        # Nothing ends sooner than ``first`` after the work began: do not count that time.
        # Over the window, or back to the oldest completion kept (see PACE_COMPLETIONS).
        counted = max(window, now - self._done_at[0])
        span = min(counted, now - self._busy_since - self.schedule.first)
        return len(self._done_at) / max(span, self.schedule.first / 2)

    def plan(self, now: float) -> tuple[list[str], float]:
        """The jobs to look at now (maybe none) and when to ask again (``inf``: no reason to)."""
        if self._stale:
            self._pace = self.pace(self._observed_at)
            if self._pace is not None:
                self._calibrate(self._observed_at)
            self._stale = False
        pace = self._pace
        due: list[tuple[float, str]] = []  # (since when due, job id)
        upcoming: list[float] = []  # when jobs not due yet become due
        for job_id, plan in self._looked.items():
            if plan.hinted:
                at = plan.not_before
            else:
                predicted = self._carried(self._predicted(plan.seq, pace, now), pace, now)
                at = min(max(plan.not_before, predicted), plan.deadline)
            if at <= now:
                due.append((at + self._hold(plan, at), job_id))
            else:
                upcoming.append(at)
        # Fresh jobs become due in creation order (their predictions grow with the sequence),
        # so the scan stops at the first one beyond the horizon.
        probes = max(0, self.schedule.probe - len(self._looked))
        horizon = now + self.schedule.max_hold
        scanned: set[str] = set()
        for index, (job_id, plan) in enumerate(self._fresh.items()):
            if pace is None and index >= probes:
                break  # the pace is unknown: only the oldest few are looked at
            unbounded = self._predicted(plan.seq, pace, now)
            predicted = self._carried(unbounded, pace, now)
            if index == 0:
                # The oldest unseen job is looked at at least every ``cap`` (or every
                # PROBE_GAPS of the pace's gaps, if longer): a pace that was underrated would
                # otherwise never be corrected (no looks, no news).
                every = max(self.schedule.cap, PROBE_GAPS / pace if pace else 0.0)
                if self._deliveries_arrive(now):
                    every = self.schedule.safety_interval
                predicted = min(predicted, self._last_first_look + every)
            at = max(plan.not_before, predicted)
            if self._quickest < INFINITY:
                at = max(at, plan.added + QUICKEST_SHARE * self._quickest)
            if plan.deadline == INFINITY and pace is not None:
                self._set_deadline(job_id, plan, min(at, max(plan.not_before, unbounded)))
            at = min(at, plan.deadline)
            scanned.add(job_id)
            if at <= now:
                due.append((at + self._hold(plan, at), job_id))
            else:
                upcoming.append(at)
            if min(predicted, plan.deadline) > horizon or len(due) >= self.batch_size:
                break
        self._past_deadlines(now, scanned, due, upcoming)
        upcoming.sort()
        if not due:
            return [], upcoming[0] if upcoming else INFINITY
        due.sort()
        deadline = due[0][0]  # no due job waits longer than its hold
        missing = self.batch_size - len(due)
        # More deliveries may come at any time: a hinted job always waits out its (short) hold.
        hinted = any(job_id in self._looked and self._looked[job_id].hinted for _, job_id in due)
        nothing_coming = not hinted and (not upcoming or upcoming[0] > deadline)
        if missing <= 0 or now >= deadline or nothing_coming:
            batch = [job_id for _, job_id in due[: self.batch_size]]
            if any(job_id in self._fresh for job_id in batch):
                self._last_first_look = now
            if log.isEnabledFor(logging.DEBUG):
                self._log_poll(now, batch, due, pace)
            return batch, now
        # Wake when the batch is full, when the oldest has waited enough, or when the last job
        # known to come before that has come (the scan above reaches beyond the horizon).
        fills_at = upcoming[missing - 1] if len(upcoming) >= missing else INFINITY
        if hinted:
            return [], min(fills_at, deadline)
        last_before_deadline = max(at for at in upcoming if at <= deadline)
        return [], min(fills_at, last_before_deadline)

    def _set_deadline(self, job_id: str, plan: _Plan, predicted: float) -> None:
        wait = max(self.schedule.first, predicted - plan.added)
        plan.deadline = plan.added + max(self.schedule.cap, DEADLINE_FACTOR * wait)
        heapq.heappush(self._deadlines, (plan.deadline, plan.seq, job_id))

    def _past_deadlines(
        self, now: float, scanned: set[str], due: list[tuple[float, str]], upcoming: list[float]
    ) -> None:
        """Fresh jobs beyond the scan whose deadline has come (or the next such deadline)."""
        heap = self._deadlines
        while heap:
            deadline, _, job_id = heap[0]
            plan = self._fresh.get(job_id)
            if plan is None or plan.deadline != deadline:
                heapq.heappop(heap)  # looked at, done or discarded since
                continue
            if deadline > now:
                upcoming.append(deadline)
                return
            heapq.heappop(heap)
            if job_id not in scanned and len(due) < self.batch_size:
                due.append((deadline + self._hold(plan, deadline), job_id))
            elif job_id not in scanned:
                heapq.heappush(heap, (deadline, plan.seq, job_id))  # next poll
                return

    def _log_poll(
        self, now: float, batch: list[str], due: list[tuple[float, str]], pace: float | None
    ) -> None:
        plans = [self._fresh.get(job_id) or self._looked[job_id] for job_id in batch]
        log.debug(
            "%s",
            json.dumps(
                {
                    "event": "poll",
                    "t": round(now, 4),
                    "jobs": len(batch),
                    "first_looks": sum(job_id in self._fresh for job_id in batch),
                    "pending": self.pending,
                    "pace": pace,
                    "optimism": self.optimism,
                    "frontier": self._frontier,
                    "frontier_at": round(self._frontier_at, 4),
                    "highest_done": self._highest_done,
                    "seqs": [min(p.seq for p in plans), max(p.seq for p in plans)],
                    "ages": [round(now - p.added, 4) for p in plans],
                    "deadline_in": round(due[0][0] - now, 4),
                    "quickest": None if self._quickest == INFINITY else round(self._quickest, 4),
                }
            ),
        )

    def _hold(self, plan: _Plan, due_at: float) -> float:
        """How long a due job may wait for company: short for young jobs (a per-job timer would
        have seen them soon), up to ``max_hold`` for old ones, ``hint_hold`` when hinted."""
        if plan.hinted:
            return self.schedule.hint_hold
        hold = min(self.schedule.max_hold, HOLD_SHARE * max(0.0, due_at - plan.added))
        if self._pace:  # no longer than it takes the pace to bring a half-full batch
            hold = min(hold, HOLD_FILL * self.batch_size / (self._pace * self.optimism))
        return hold

    def _predicted(self, seq: int, pace: float | None, now: float) -> float:
        """When the frontier passes job ``seq`` (plus the safety interval with webhooks)."""
        if pace is None:
            return -INFINITY  # no prediction: the per-job schedule (and the probe) decide
        ahead = seq - self._frontier + 1
        at = self._frontier_at + ahead / (pace * self.optimism)
        if self._deliveries_arrive(now):
            at += self.schedule.safety_interval
        return at

    def _carried(self, predicted: float, pace: float | None, now: float) -> float:
        """``predicted``, or never if beyond EXTRAPOLATE_GAPS of the last calibration: the
        deadlines and the probe decide there (they are set from the prediction itself).
        With webhooks the prediction is the safety net's (deliveries come first): kept."""
        if pace is None or self._deliveries_arrive(now):
            return predicted
        if predicted <= self._frontier_at + max(self.schedule.cap, EXTRAPOLATE_GAPS / pace):
            return predicted
        return INFINITY

    def _calibrate(self, now: float) -> None:
        """Frontier = newest job seen done + 1, minus older jobs that may still be running."""
        highest = self._highest_done
        behind = 0
        for plan in self._fresh.values():
            if plan.seq >= highest:
                break
            behind += 1
        # Jobs looked at once or twice are probably about to end; long stragglers are not
        # holding the queue back any more than the pace already says.
        behind += sum(1 for p in self._looked.values() if p.seq < highest and p.looks <= 2)
        self._frontier = float(highest + 1 - behind)
        self._frontier_at = now
