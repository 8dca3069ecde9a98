"""One worker's session on the shared journal: its connection, retried through outages, and
the claims it holds (with their local lease deadlines). The base of :class:`PostgresJournal`."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Final, TypeVar

from viesus._errors import JournalConfigurationError, JournalError
from viesus._journal.postgres.errors import explain
from viesus._journal.postgres.settings import BatchSettings, LeaseTimes, lease_clock, redact_dsn
from viesus._journal.store import ItemKey, ItemRecord, ItemState

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import DictRow

    Connection = psycopg.Connection[DictRow]

log = logging.getLogger("viesus._store_pg")

__all__ = ["RECORD_COLUMNS", "Session", "key_arrays", "record_from_row"]

T = TypeVar("T")

_RECORD_FIELDS: Final = (
    "source_id", "params_hash", "source", "state", "content_hash", "upload_id", "job_id",
    "attempts", "output_path", "output_sha256", "credits", "reason", "updated_at",
)  # fmt: skip
RECORD_COLUMNS: Final = ", ".join(_RECORD_FIELDS)


def record_from_row(row: DictRow) -> ItemRecord:
    return ItemRecord(
        key=ItemKey(row["source_id"], row["params_hash"]),
        source=row["source"],
        state=ItemState(row["state"]),
        content_hash=row["content_hash"],
        upload_id=row["upload_id"],
        job_id=row["job_id"],
        attempts=row["attempts"],
        output_path=row["output_path"],
        output_sha256=row["output_sha256"],
        credits=row["credits"],
        reason=row["reason"],
        updated_at=row["updated_at"],
    )


def key_arrays(keys: Iterable[ItemKey]) -> tuple[list[str], list[str]]:
    listed = list(keys)
    return [k.source_id for k in listed], [k.params_hash for k in listed]


class Session:
    """The connection (one transaction at a time, under a lock) and the claims of one worker.

    Thread-safe: every call is one transaction under one lock (the pipeline calls from worker
    threads; the lease renewer from another).
    """

    def __init__(
        self,
        dsn: str,
        batch: str,
        worker_id: str,
        lease: LeaseTimes,
        outage_limit: float,
        clock: Callable[[], float] = lease_clock,
    ) -> None:
        self.dsn = dsn
        self.batch = batch
        self.worker_id = worker_id
        self.lease = lease
        self.outage_limit = outage_limit
        self.settings: BatchSettings | None = None
        self.reconnects = 0
        # Keys whose create intent was refused because max_credits would be exceeded.
        self.over_budget: set[ItemKey] = set()
        self._claims: dict[ItemKey, int] = {}  # held item -> the generation claimed
        # Held item -> when its lease runs out at the latest, on this machine's monotonic
        # clock: the local time *before* the claim or renewal that set it was sent, plus the
        # lease duration (the database's now() of that statement is later, so this is early).
        self._deadlines: dict[ItemKey, float] = {}
        self._clock = clock
        self._connection: Connection | None = None
        self._closed = False
        # The connection (one transaction at a time) and the claims are guarded apart: asking
        # whether an item is held never waits for the database.
        self._lock = threading.RLock()
        self._held_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({redact_dsn(self.dsn)!r}, batch={self.batch!r}, "
            f"worker={self.worker_id!r})"
        )

    def close(self) -> None:
        """Give back the leases still held (others may claim at once) and disconnect."""
        with self._lock:
            with self._held_lock:
                held = list(self._claims)
            try:
                if held and self._connection is not None:
                    with self._connection.transaction():
                        self._release(self._connection, held)
            except Exception as exc:  # they expire on their own
                log.info("leases not released on close (%s)", type(exc).__name__)
            finally:
                self._closed = True
                with self._held_lock:
                    self._claims.clear()
                    self._deadlines.clear()
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None

    def _connect(self) -> Connection:
        """A new connection; what no retry can fix (wrong password, role or database, a
        malformed DSN) raises ``JournalConfigurationError`` at once, naming the reason."""
        import psycopg
        from psycopg.rows import dict_row

        try:
            return psycopg.connect(
                self.dsn,
                row_factory=dict_row,
                connect_timeout=5,
                application_name=f"viesus {self.worker_id}"[:63],
            )
        except psycopg.Error as exc:
            failure = explain(exc)
            if failure.permanent:
                raise JournalConfigurationError(failure.refusal(redact_dsn(self.dsn))) from None
            raise

    def _run(self, body: Callable[[Connection], T]) -> T:
        """``body`` in one transaction. A lost connection is re-made with backoff and ``body``
        run again (bodies are idempotent) for at most ``outage_limit`` seconds."""
        import psycopg
        from psycopg.errors import DeadlockDetected, SerializationFailure, TransactionRollback

        rolled_back = (DeadlockDetected, SerializationFailure, TransactionRollback)

        deadline = time.monotonic() + self.outage_limit
        delay = 0.05
        while True:
            with self._lock:
                if self._closed:
                    raise JournalError(f"the journal {redact_dsn(self.dsn)} is closed")
                try:
                    if self._connection is None or self._connection.closed:
                        self._connection = self._connect()
                    with self._connection.transaction():
                        return body(self._connection)
                except rolled_back as exc:
                    # A deadlock or serialization conflict with another worker: the server
                    # rolled the transaction back; run it again on the same connection.
                    if time.monotonic() > deadline:
                        raise JournalError(
                            f"the journal database {redact_dsn(self.dsn)} kept refusing a step "
                            f"({type(exc).__name__}); run the worker again to resume the batch"
                        ) from None
                    log.info("journal step rolled back (%s); running it again", type(exc).__name__)
                except psycopg.OperationalError as exc:
                    if self._connection is not None:
                        self._connection.close()
                        self._connection = None
                    reason = explain(exc).reason
                    if time.monotonic() + delay > deadline:
                        raise JournalError(
                            f"the journal database {redact_dsn(self.dsn)} was unreachable for "
                            f"{self.outage_limit:.0f} s ({reason}); run the worker "
                            "again to resume the batch"
                        ) from None
                    self.reconnects += 1
                    log.warning(
                        "journal database %s unreachable (%s); retrying in %.2f s",
                        redact_dsn(self.dsn),
                        reason,
                        delay,
                    )
                except psycopg.Error as exc:
                    raise JournalError(
                        f"the journal database {redact_dsn(self.dsn)} refused a step: "
                        f"{type(exc).__name__}: {exc.diag.message_primary or 'no message'}"
                    ) from None
            time.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not secrets
            delay = min(delay * 2, 2.0)

    def _batch_row(self, connection: Connection, *, lock: bool = False) -> DictRow:
        row = connection.execute(
            "SELECT * FROM viesus_batches WHERE name = %s FOR UPDATE"
            if lock
            else "SELECT * FROM viesus_batches WHERE name = %s",
            (self.batch,),
        ).fetchone()
        if row is None:
            raise JournalError(
                f"there is no batch {self.batch!r} in {redact_dsn(self.dsn)} (a worker creates "
                "it when it starts)"
            )
        return row

    def _release(self, connection: Connection, keys: Sequence[ItemKey]) -> None:
        source_ids, params = key_arrays(keys)
        connection.execute(
            "UPDATE viesus_queue AS q SET holder = NULL, expires = NULL"
            " FROM unnest(%s::text[], %s::text[]) AS k(s, p)"
            " WHERE q.batch = %s AND q.source_id = k.s AND q.params_hash = k.p"
            " AND q.holder = %s",
            (source_ids, params, self.batch, self.worker_id),
        )

    def _forget(self, keys: Iterable[ItemKey]) -> None:
        """Drop claims this worker learnt it lost (or gave back for want of lease time)."""
        with self._held_lock:
            dropped = [key for key in keys if self._claims.pop(key, None) is not None]
            for key in dropped:
                self._deadlines.pop(key, None)
        if dropped:
            log.warning("lost the lease on %d item(s); another worker continues them", len(dropped))
