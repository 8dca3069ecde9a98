"""The batch's queue and this worker's leases on it: enqueue, claim, renew, confirm before a
create, settle outcomes, release; fenced by holder and generation on the database's clock."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Final, TypeVar

from viesus._journal.postgres.session import Session, key_arrays
from viesus._journal.store import ItemKey

if TYPE_CHECKING:
    from viesus._journal.postgres.session import Connection

log = logging.getLogger("viesus._store_pg")

__all__ = ["QueueAndLeases"]

T = TypeVar("T")

# A settled item whose record is "unknown" (maybe charged, the server could not say) may be
# claimed again for another reconciliation, but not for ever.
_MAX_CLAIMS: Final = 5


class QueueAndLeases(Session):
    """The queue and lease calls of :class:`PostgresJournal`."""

    def enqueue(self, items: Sequence[tuple[ItemKey, str]]) -> None:
        """Add ``(key, source as shown)`` pairs to the batch's queue; known ones are kept."""

        def body(connection: Connection, chunk: Sequence[tuple[ItemKey, str]]) -> None:
            with connection.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO viesus_queue (batch, source_id, params_hash, source)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    [(self.batch, k.source_id, k.params_hash, shown) for k, shown in chunk],
                )

        for start in range(0, len(items), 1000):
            self._run(_bound(body, items[start : start + 1000]))

    def claim(self, limit: int, skip: Iterable[ItemKey] = ()) -> list[ItemKey]:
        """Take up to ``limit`` open items nobody holds (or whose lease expired), oldest first.
        ``skip``: items this worker cannot work on (sources it does not have)."""
        skip_ids, skip_params = key_arrays(skip)

        def body(connection: Connection) -> dict[ItemKey, int]:
            rows = connection.execute(
                """
                WITH free AS (
                    SELECT q.source_id, q.params_hash FROM viesus_queue AS q
                    WHERE q.batch = %(batch)s
                      AND (q.outcome IS NULL
                           OR (q.outcome = 'unknown' AND q.generation < %(max_claims)s))
                      AND (q.holder IS NULL OR q.expires <= now())
                      AND NOT EXISTS (
                          SELECT 1 FROM unnest(%(skip_ids)s::text[], %(skip_params)s::text[])
                              AS k(s, p)
                          WHERE k.s = q.source_id AND k.p = q.params_hash)
                    ORDER BY q.seq LIMIT %(limit)s
                    FOR UPDATE SKIP LOCKED)
                UPDATE viesus_queue AS q
                SET holder = %(worker)s, generation = q.generation + 1, outcome = NULL,
                    expires = now() + make_interval(secs => %(lease)s)
                FROM free
                WHERE q.batch = %(batch)s AND q.source_id = free.source_id
                  AND q.params_hash = free.params_hash
                RETURNING q.source_id, q.params_hash, q.generation
                """,
                {
                    "batch": self.batch,
                    "max_claims": _MAX_CLAIMS,
                    "skip_ids": skip_ids,
                    "skip_params": skip_params,
                    "limit": limit,
                    "worker": self.worker_id,
                    "lease": self.lease.duration,
                },
            ).fetchall()
            return {
                ItemKey(row["source_id"], row["params_hash"]): int(row["generation"])
                for row in rows
            }

        sent = self._clock()
        claimed = self._run(body)
        with self._held_lock:
            self._claims.update(claimed)
            for key in claimed:
                self._deadlines[key] = sent + self.lease.duration
        return sorted(claimed)

    def holds(self, key: ItemKey) -> bool:
        """This worker claimed ``key`` and has not learnt that it lost it."""
        with self._held_lock:
            return key in self._claims

    def held(self) -> bool:
        """This worker holds at least one item (one of its lanes is working on it)."""
        with self._held_lock:
            return bool(self._claims)

    def renew(self) -> set[ItemKey]:
        """Extend every lease this worker holds; returns (and forgets) the ones it lost."""
        with self._held_lock:
            held = dict(self._claims)

        def body(connection: Connection) -> set[ItemKey]:
            connection.execute(
                "UPDATE viesus_workers SET last_seen = now() WHERE batch = %s AND worker = %s",
                (self.batch, self.worker_id),
            )
            if not held:
                return set()
            source_ids, params = key_arrays(held)
            rows = connection.execute(
                "UPDATE viesus_queue AS q"
                " SET expires = now() + make_interval(secs => %s)"
                " FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS k(s, p, g)"
                " WHERE q.batch = %s AND q.source_id = k.s AND q.params_hash = k.p"
                " AND q.generation = k.g AND q.holder = %s AND q.expires > now()"
                " RETURNING q.source_id, q.params_hash",
                (
                    self.lease.duration,
                    source_ids,
                    params,
                    list(held.values()),
                    self.batch,
                    self.worker_id,
                ),
            ).fetchall()
            kept = {ItemKey(row["source_id"], row["params_hash"]) for row in rows}
            return set(held) - kept

        sent = self._clock()
        lost = self._run(body)
        with self._held_lock:
            # Only the claims renewed above: a key claimed again meanwhile is a new claim.
            lost = {key for key in lost if self._claims.get(key) == held[key]}
            for key, generation in held.items():
                if key not in lost and self._claims.get(key) == generation:
                    self._deadlines[key] = max(
                        self._deadlines.get(key, sent), sent + self.lease.duration
                    )
        self._forget(lost)
        return lost

    def lease_left(self, key: ItemKey) -> float:
        """Seconds of lease this worker can count on for ``key`` on its own monotonic clock
        (as last confirmed by the database; negative when run out, ``-inf`` when not held)."""
        with self._held_lock:
            deadline = self._deadlines.get(key) if key in self._claims else None
        return float("-inf") if deadline is None else deadline - self._clock()

    def confirm_for_create(self, keys: Sequence[ItemKey]) -> set[ItemKey]:
        """Called right before a create batch is sent; returns the keys **not** to send.

        The create intent was fenced by the database, but the worker may have stalled since
        (paused, swapped out, cut off). So, on the local monotonic clock (no clocks compared
        across machines), each item must still have ``create_window`` seconds of the lease the
        database last confirmed. When one has not, the lease is re-confirmed with the
        database (:meth:`renew`, fenced by holder, generation and the database's clock): if
        this worker still holds it, the lease never ran out, nobody else can have taken the
        item, and the create may go; otherwise the item is lost and is not sent, and its
        create intent is left to the next holder's reconciliation (which will find no job).
        [assumption] the two clocks run at the same rate within the margin over one lease.
        """
        short = [key for key in keys if self.lease_left(key) < self.lease.create_window]
        if not short:
            return set()
        log.info("%d item(s) short of lease before their create; re-confirming", len(short))
        self.renew()
        refused = {key for key in short if self.lease_left(key) < self.lease.create_window}
        if refused:
            log.warning(
                "lost the lease on %d item(s) before their create was sent: not sent, the "
                "next holder reconciles them",
                len(refused),
            )
            still = [key for key in refused if self.holds(key)]
            if still:  # renewed, but too late to count on: give them back now
                self.release(still)
            self._forget(refused)
        return refused

    def settle(self, outcomes: Sequence[tuple[ItemKey, str, str | None]]) -> set[ItemKey]:
        """Record final results ``(key, outcome, reason)`` on held items (``outcome``:
        finished, skipped, failed, unknown or lost): settled items are not claimed again.
        The leases stay until :meth:`release` (the pipeline run may still journal its last
        step, e.g. ``downloaded``). Returns the keys not held any more (another worker has
        them; their result here is void)."""
        with self._held_lock:
            held = {key: self._claims.get(key) for key, _, _ in outcomes}

        def body(connection: Connection) -> set[ItemKey]:
            refused: set[ItemKey] = set()
            for key, outcome, reason in sorted(outcomes, key=lambda o: o[0]):
                row = connection.execute(
                    "UPDATE viesus_queue SET outcome = %s, reason = %s, settled_by = %s,"
                    " settled_at = now()"
                    " WHERE batch = %s AND source_id = %s AND params_hash = %s"
                    " AND holder = %s AND generation = %s RETURNING 1 AS ok",
                    (
                        outcome,
                        reason,
                        self.worker_id,
                        self.batch,
                        key.source_id,
                        key.params_hash,
                        self.worker_id,
                        held[key],
                    ),
                ).fetchone()
                if row is None:
                    refused.add(key)
            return refused

        refused = self._run(body)
        self._forget(refused)
        return refused

    def release(self, keys: Sequence[ItemKey]) -> None:
        """Give items back unfinished (a worker stopping, or a source it does not have)."""

        def body(connection: Connection) -> None:
            self._release(connection, keys)

        self._run(body)
        with self._held_lock:
            for key in keys:
                self._claims.pop(key, None)
                self._deadlines.pop(key, None)

    def open_elsewhere(self) -> tuple[int, float | None]:
        """Open items held by live leases of other workers, and the seconds until the first
        of those leases ends; ``(0, None)`` when no other worker holds anything open."""

        def body(connection: Connection) -> tuple[int, float | None]:
            row = connection.execute(
                "SELECT count(*) AS n, extract(epoch FROM min(expires) - now()) AS wait"
                " FROM viesus_queue WHERE batch = %s AND outcome IS NULL"
                " AND holder IS NOT NULL AND holder <> %s AND expires > now()",
                (self.batch, self.worker_id),
            ).fetchone()
            assert row is not None
            wait = row["wait"]
            return int(row["n"]), (float(wait) if wait is not None else None)

        return self._run(body)


def _bound(body: Callable[[Connection, T], None], value: T) -> Callable[[Connection], None]:
    return lambda connection: body(connection, value)
