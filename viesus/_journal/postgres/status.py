"""What ``viesus batch status`` shows (items per outcome and state, workers, credits) and the
operator's ``retry-failed``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from viesus._journal.postgres.session import Session
from viesus._journal.store import ItemState

if TYPE_CHECKING:
    from viesus._journal.postgres.session import Connection

__all__ = ["BatchStatus", "StatusReport", "WorkerStatus"]


@dataclass(frozen=True)
class WorkerStatus:
    worker: str
    host: str
    pid: int
    last_seen: datetime
    holding: int
    settled: int


@dataclass(frozen=True)
class BatchStatus:
    """What ``viesus batch status`` shows: items per state and outcome, workers, credits."""

    name: str
    total: int
    open: int
    outcomes: dict[str, int]
    states: dict[str, int]
    workers: list[WorkerStatus]
    credits_spent: int
    credits_committed: int
    max_credits: int | None
    settled_last_minute: int

    @property
    def eta_seconds(self) -> float | None:
        """Open items at the last minute's rate; ``None`` when nothing settled lately."""
        if self.open == 0:
            return 0.0
        if not self.settled_last_minute:
            return None
        return self.open * 60.0 / self.settled_last_minute


class StatusReport(Session):
    """The operator commands of :class:`PostgresJournal`."""

    def status(self) -> BatchStatus:
        """Items per outcome and per record state, workers, credits spent and reserved."""

        def body(connection: Connection) -> BatchStatus:
            batch = self._batch_row(connection)
            queue = connection.execute(
                "SELECT coalesce(outcome, 'open') AS outcome, count(*) AS n,"
                " count(*) FILTER (WHERE settled_at > now() - interval '60 seconds') AS recent"
                " FROM viesus_queue WHERE batch = %s GROUP BY 1",
                (self.batch,),
            ).fetchall()
            states = connection.execute(
                "SELECT state, count(*) AS n, coalesce(sum(credits), 0) AS credits"
                " FROM viesus_items WHERE batch = %s GROUP BY state",
                (self.batch,),
            ).fetchall()
            workers = connection.execute(
                "SELECT w.worker, w.host, w.pid, w.last_seen,"
                " (SELECT count(*) FROM viesus_queue q WHERE q.batch = w.batch"
                "   AND q.holder = w.worker AND q.expires > now()) AS holding,"
                " (SELECT count(*) FROM viesus_queue q WHERE q.batch = w.batch"
                "   AND q.settled_by = w.worker) AS settled"
                " FROM viesus_workers w WHERE w.batch = %s ORDER BY w.started_at",
                (self.batch,),
            ).fetchall()
            outcomes = {row["outcome"]: int(row["n"]) for row in queue}
            paid = (ItemState.FINISHED_REMOTE, ItemState.DOWNLOADED)
            return BatchStatus(
                name=self.batch,
                total=sum(outcomes.values()),
                open=outcomes.get("open", 0),
                outcomes=outcomes,
                states={row["state"]: int(row["n"]) for row in states},
                workers=[
                    WorkerStatus(
                        row["worker"],
                        row["host"],
                        row["pid"],
                        row["last_seen"],
                        int(row["holding"]),
                        int(row["settled"]),
                    )
                    for row in workers
                ],
                credits_spent=sum(int(row["credits"]) for row in states if row["state"] in paid),
                credits_committed=int(batch["credits_committed"]),
                max_credits=batch["max_credits"],
                settled_last_minute=sum(int(row["recent"]) for row in queue),
            )

        return self._run(body)

    def retry_failed(self) -> int:
        """Reopen the items whose outcome was ``failed``; returns how many. Safe for any of
        them: the pipeline decides from each record what a rerun may do (a free failure starts
        on a fresh upload, a known job is waited for again, a maybe-charged item is reconciled,
        never created again)."""

        def body(connection: Connection) -> int:
            cursor = connection.execute(
                "UPDATE viesus_queue SET outcome = NULL, reason = NULL, holder = NULL,"
                " expires = NULL WHERE batch = %s AND outcome = 'failed'",
                (self.batch,),
            )
            return cursor.rowcount

        return self._run(body)
