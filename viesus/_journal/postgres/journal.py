"""The shared journal: many workers, on many machines, draining one named batch in PostgreSQL.

It is a :class:`viesus._journal.store.JournalStore` like the SQLite journal (same records, same item
states, same compare-and-set), plus what sharing needs. Why PostgreSQL: a lab already runs it,
and its row locks are the standard work-queue primitive. The design:

* **A batch is a name.** Every worker started with the same name, options and output location
  joins it; each adds its sources to the batch's queue (``viesus_queue``; the first adds them,
  the others find them there). A worker works only on items it has **claimed**:
  ``SELECT … FOR UPDATE SKIP LOCKED`` hands each free item to one worker, with a **lease**
  (``LeaseTimes.duration``, 60 s) that the holder renews (every 10 s) while it works. A dead
  worker's items come back when their leases expire, and their records say where they were:
  an item left in ``create_intent`` is reconciled by the next holder before anything is created
  (the pipeline's rule, unchanged), so a ``kill -9`` never pays twice.
* **Every write is fenced.** :meth:`PostgresJournal.apply` writes a change only if, in the same
  transaction, this worker still holds the item's lease with the *generation* it claimed (each
  claim increments it) and the lease has not run out on the *database's* clock. A move to
  ``create_intent`` also needs ``LeaseTimes.create_window`` seconds of lease left. A worker that
  was only slow (stalled, paused, cut off) and lost its lease learns it there and sends no
  create: the change comes back as stale, and the pipeline leaves a stale item alone.
  Right before a create batch is sent, :meth:`confirm_for_create` checks on the local
  monotonic clock that each item still has ``create_window`` of the lease the database last
  confirmed, and re-confirms with the database when not: a worker that stalled between its
  intent and its create notices it lost the lease and does not send.
  [assumption] A worker that stops renewing (dead, or stalled past its lease) sends no create
  after its lease ran out, so the next holder's reconciliation (at least ``create_window``
  seconds after the last intent) sees every create the last holder sent. Not covered: a worker
  stalled between that last local check and its create leaving the machine (a few
  statements), or while its transport waits to resend a create after a 429; see SCALING.md.
* **One credit counter per batch** (``viesus_batches.credits_committed``), for ``max_credits``
  across workers: the move to ``create_intent`` reserves the item's cost in the same
  transaction, under the batch row's lock, so two workers cannot both take the last credits. A
  refused reservation is a stale change too (no create is sent); the keys are in
  :attr:`PostgresJournal.over_budget`. Reserved credits are given back only when the item
  fails, i.e. the service said it cost nothing (``failed`` is free by the state machine).
* **Endpoint and key fingerprint** are recorded with the batch (:meth:`bind`; a hash, never the
  key) and a mismatch is refused: another account's job ids cannot be reconciled.
* **Outcomes.** When a worker has a final result for an item (finished, skipped, failed, maybe
  charged) it records it on the queue row (:meth:`settle`); settled items are not claimed
  again, so a batch ends. ``viesus batch retry-failed`` reopens the free failures.

The schema is created and migrated by the toolkit (:mod:`viesus._journal.postgres.schema`) under an
advisory lock, so workers starting together migrate once. Calls are synchronous (the pipeline
runs them in a thread, per the store contract) on one connection guarded by a lock. When the
database goes away for a moment, calls back off and reconnect for up to ``outage_limit``
seconds; a transaction whose commit answer was lost is run again, and the rows it had already
written are recognised by the call's token as applied, not reported stale. A connection the
server refuses for good (wrong password, role or database; a malformed DSN) is not retried:
``JournalConfigurationError`` at once, with the reason (:mod:`viesus._journal.postgres.errors`).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final, TypeVar

from viesus._errors import JournalConfigurationError, JournalError
from viesus._journal.postgres.errors import explain
from viesus._journal.postgres.schema import SCHEMA_VERSION, check_schema, migrate
from viesus._journal.states import ItemState
from viesus._journal.store import ItemKey, ItemRecord, StateChange, StoreIdentity

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import DictRow

    Connection = psycopg.Connection[DictRow]

log = logging.getLogger("viesus._store_pg")

__all__ = [
    "INSTALL_HINT",
    "SCHEMA_VERSION",
    "BatchSettings",
    "BatchStatus",
    "LeaseTimes",
    "PostgresJournal",
    "WorkerStatus",
    "is_postgres_url",
    "redact_dsn",
]

T = TypeVar("T")

INSTALL_HINT: Final = (
    "a postgresql:// journal needs the PostgreSQL driver: pip install 'viesus-toolkit[postgres]'"
)

_RECORD_FIELDS: Final = (
    "source_id", "params_hash", "source", "state", "content_hash", "upload_id", "job_id",
    "attempts", "output_path", "output_sha256", "credits", "reason", "updated_at",
)  # fmt: skip
_RECORD_COLUMNS: Final = ", ".join(_RECORD_FIELDS)
# A settled item whose record is "unknown" (maybe charged, the server could not say) may be
# claimed again for another reconciliation, but not for ever.
_MAX_CLAIMS: Final = 5


def is_postgres_url(journal: object) -> bool:
    """``journal="postgresql://…"`` (or ``postgres://``) selects this store; a path is SQLite."""
    return isinstance(journal, str) and journal.split("://", 1)[0].lower() in (
        "postgresql",
        "postgres",
    )


def redact_dsn(dsn: str) -> str:
    """The DSN as it may appear in logs and errors: host, port and database, no credentials."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(dsn)
    except Exception:  # unparsable, or no driver: the scheme only
        return dsn.split("://", 1)[0] + "://…"
    return f"postgresql://{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/" + str(
        parts.get("dbname", "")
    )


_BOOTTIME: Final = getattr(time, "CLOCK_BOOTTIME", None)


def lease_clock() -> float:
    """The local clock leases are counted on: monotonic, and on Linux one that keeps counting
    while the machine is suspended (``CLOCK_BOOTTIME``; plain ``CLOCK_MONOTONIC`` stops, so a
    laptop suspended past its lease would believe it still held it). Elsewhere
    :func:`time.monotonic`."""
    if _BOOTTIME is not None:
        return time.clock_gettime(_BOOTTIME)
    return time.monotonic()


def default_worker_id() -> str:
    """``host:pid:random``: unique per process, and tells an operator where a worker runs."""
    return f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(24):06x}"


@dataclass(frozen=True)
class LeaseTimes:
    """How long a claim lasts, how often its holder renews it, how much a create needs left.

    ``create_window`` must exceed the longest a create request can take (the client's
    timeouts); ``duration`` should exceed ``create_window`` by a few ``renew_every``.
    """

    duration: float = 60.0
    renew_every: float = 10.0
    create_window: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.renew_every < self.duration or not 0 < self.create_window < self.duration:
            raise ValueError(
                "LeaseTimes needs 0 < renew_every < duration and 0 < create_window < duration "
                f"(got duration={self.duration}, renew_every={self.renew_every}, "
                f"create_window={self.create_window})"
            )


@dataclass(frozen=True)
class BatchSettings:
    """What every worker of a batch must agree on; the first worker's are recorded.

    ``cost`` is the estimated credits of one item (the options are the batch's), reserved by
    each create intent against ``max_credits``.
    """

    params_hash: str
    out_dir: str
    cost: int
    max_credits: int | None


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


def _record(row: DictRow) -> ItemRecord:
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


def _key_arrays(keys: Iterable[ItemKey]) -> tuple[list[str], list[str]]:
    listed = list(keys)
    return [k.source_id for k in listed], [k.params_hash for k in listed]


class PostgresJournal:
    """One worker's handle on one batch. :meth:`open`, :meth:`join`, then the pipeline's calls.

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
            f"PostgresJournal({redact_dsn(self.dsn)!r}, batch={self.batch!r}, "
            f"worker={self.worker_id!r})"
        )

    @classmethod
    def open(
        cls,
        dsn: str,
        batch: str,
        *,
        worker_id: str | None = None,
        lease: LeaseTimes | None = None,
        outage_limit: float = 120.0,
        migrate: bool = True,
        clock: Callable[[], float] = lease_clock,
    ) -> PostgresJournal:
        """Connect and create or migrate the schema (``migrate=False``: only check it is there,
        for commands that only look). Raises ``JournalError`` with the install hint when the
        driver is missing, and for an unusable batch name."""
        try:
            import psycopg  # noqa: F401 - the optional driver, loaded only for this store
        except ImportError:
            raise JournalError(INSTALL_HINT) from None
        if not batch or len(batch) > 200 or not batch.isprintable():
            raise JournalError(
                f"batch name {batch!r}: give a short printable name, e.g. --batch lab-2026-11-30"
            )
        store = cls(
            dsn,
            batch,
            worker_id or default_worker_id(),
            lease or LeaseTimes(),
            outage_limit,
            clock,
        )
        try:
            store._run(store._migrate if migrate else store._check_schema)
        except BaseException:
            store.close()
            raise
        return store

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

    # --- connection and retries ------------------------------------------------------------

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

    def _migrate(self, connection: Connection) -> None:
        migrate(connection, redact_dsn(self.dsn))

    def _check_schema(self, connection: Connection) -> None:
        check_schema(connection, redact_dsn(self.dsn))

    # --- joining a batch ----------------------------------------------------------------------

    def join(self, settings: BatchSettings) -> BatchSettings:
        """Create the batch, or join it when options and output location agree (a mismatch is
        refused, naming it). Returns the recorded settings: ``max_credits`` is the first
        worker's, since the budget belongs to the batch."""

        def body(connection: Connection) -> BatchSettings:
            connection.execute(
                "INSERT INTO viesus_batches (name, params_hash, out_dir, cost, max_credits)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING",
                (
                    self.batch,
                    settings.params_hash,
                    settings.out_dir,
                    settings.cost,
                    settings.max_credits,
                ),
            )
            row = connection.execute(
                "SELECT params_hash, out_dir, cost, max_credits FROM viesus_batches"
                " WHERE name = %s",
                (self.batch,),
            ).fetchone()
            assert row is not None
            recorded = BatchSettings(
                row["params_hash"], row["out_dir"], row["cost"], row["max_credits"]
            )
            if recorded.params_hash != settings.params_hash:
                raise JournalError(
                    f"batch {self.batch!r} was started with other enhancement options: every "
                    "worker of a batch passes the same options (or use another batch name)"
                )
            if recorded.out_dir != settings.out_dir:
                raise JournalError(
                    f"batch {self.batch!r} writes its outputs to {recorded.out_dir}, this "
                    f"worker to {settings.out_dir}: the workers of a batch share one output "
                    "location [assumption: mounted at the same path on every machine]"
                )
            connection.execute(
                "INSERT INTO viesus_workers (batch, worker, host, pid) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (batch, worker) DO UPDATE SET last_seen = now()",
                (self.batch, self.worker_id, socket.gethostname(), os.getpid()),
            )
            return recorded

        self.settings = self._run(body)
        return self.settings

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

    # --- the JournalStore contract ------------------------------------------------------------

    def bind(self, identity: StoreIdentity) -> None:
        """Record the endpoint and key fingerprint with the batch; refuse another pair."""

        def body(connection: Connection) -> None:
            row = self._batch_row(connection, lock=True)
            if row["endpoint"] is None:
                connection.execute(
                    "UPDATE viesus_batches SET endpoint = %s, key_fingerprint = %s WHERE name = %s",
                    (identity.endpoint, identity.key_fingerprint, self.batch),
                )
                return
            if row["endpoint"] != identity.endpoint:
                raise JournalError(
                    f"batch {self.batch!r} runs against {row['endpoint']}, this worker against "
                    f"{identity.endpoint}: jobs of one endpoint cannot be reconciled on "
                    "another; use the batch's endpoint, or another batch name"
                )
            if row["key_fingerprint"] != identity.key_fingerprint:
                raise JournalError(
                    f"batch {self.batch!r} belongs to another API key (fingerprint "
                    f"{row['key_fingerprint']}; this worker's is {identity.key_fingerprint}): "
                    "one batch is one account; use its key, or another batch name"
                )

        self._run(body)

    def load(self, keys: Sequence[ItemKey]) -> dict[ItemKey, ItemRecord]:
        """The stored records of ``keys`` (any worker's writes; reads are not fenced)."""
        if not keys:
            return {}
        source_ids, params = _key_arrays(keys)

        def body(connection: Connection) -> dict[ItemKey, ItemRecord]:
            rows = connection.execute(
                f"SELECT {_RECORD_COLUMNS} FROM viesus_items AS i"  # noqa: S608 - fixed columns
                " JOIN unnest(%s::text[], %s::text[]) AS k(s, p)"
                " ON i.source_id = k.s AND i.params_hash = k.p WHERE i.batch = %s",
                (source_ids, params, self.batch),
            ).fetchall()
            return {record.key: record for record in map(_record, rows)}

        return self._run(body)

    def apply(self, changes: Sequence[StateChange]) -> set[ItemKey]:
        """One transaction: each change is written only if this worker holds the item's lease
        (holder and generation, not expired; a ``create_intent`` with ``create_window`` left),
        the stored state is the one expected, and a ``create_intent`` fits the batch budget.
        Returns the refused keys. Each call writes a token with its rows, so when its commit
        answer was lost and it runs again, rows it already wrote count as applied."""
        if not changes:
            return set()
        token = uuid.uuid4().hex
        keys = sorted({change.record.key for change in changes})
        budgeted = any(
            change.record.state in (ItemState.CREATE_INTENT, ItemState.FAILED) for change in changes
        )

        def body(connection: Connection) -> set[ItemKey]:
            lost.clear()  # (a replay after a lost connection starts over)
            with self._held_lock:
                claims = {key: self._claims[key] for key in keys if key in self._claims}
            # Lock order, everywhere: the batch row, then queue rows, then item rows, by key.
            batch = self._batch_row(connection, lock=True) if budgeted else None
            source_ids, params = _key_arrays(keys)
            leases = {
                ItemKey(row["source_id"], row["params_hash"]): row
                for row in connection.execute(
                    "SELECT q.source_id, q.params_hash, q.holder, q.generation,"
                    " q.expires > now() AS live,"
                    " q.expires > now() + make_interval(secs => %s) AS long_enough"
                    " FROM viesus_queue AS q JOIN unnest(%s::text[], %s::text[]) AS k(s, p)"
                    " ON q.source_id = k.s AND q.params_hash = k.p WHERE q.batch = %s"
                    " ORDER BY q.source_id, q.params_hash FOR UPDATE OF q",
                    (self.lease.create_window, source_ids, params, self.batch),
                ).fetchall()
            }
            rows = connection.execute(
                f"SELECT {_RECORD_COLUMNS}, reserved, txn FROM viesus_items AS i"  # noqa: S608
                " JOIN unnest(%s::text[], %s::text[]) AS k(s, p)"
                " ON i.source_id = k.s AND i.params_hash = k.p WHERE i.batch = %s"
                " ORDER BY i.source_id, i.params_hash FOR UPDATE OF i",
                (source_ids, params, self.batch),
            ).fetchall()
            current: dict[ItemKey, ItemRecord] = {}
            reserved: dict[ItemKey, int] = {}
            replayed: set[ItemKey] = set()
            for row in rows:
                record = _record(row)
                current[record.key] = record
                reserved[record.key] = int(row["reserved"])
                if row["txn"] == token:
                    replayed.add(record.key)
            committed = int(batch["credits_committed"]) if batch is not None else 0
            ceiling: int | None = batch["max_credits"] if batch is not None else None
            cost = int(batch["cost"]) if batch is not None else 0
            stale: set[ItemKey] = set()
            for change in changes:
                new = change.record
                key = new.key
                lease = leases.get(key)
                if (
                    lease is None
                    or lease["holder"] != self.worker_id
                    or lease["generation"] != claims.get(key)
                    or not lease["live"]
                    or (new.state is ItemState.CREATE_INTENT and not lease["long_enough"])
                ):
                    stale.add(key)
                    lost.add(key)
                    continue
                if key in replayed:
                    continue  # this very call wrote it before its commit answer was lost
                old = current.get(key)
                if (old.state if old is not None else None) != change.expected:
                    stale.add(key)
                    continue
                held = reserved.get(key, 0)
                if new.state is ItemState.CREATE_INTENT:
                    extra = max(0, cost - held)
                    if ceiling is not None and committed + extra > ceiling:
                        self.over_budget.add(key)
                        stale.add(key)
                        continue
                    committed += extra
                    held += extra
                elif new.state is ItemState.FAILED:
                    committed -= held  # failed is free: the service charged nothing
                    held = 0
                self._write(connection, new, held, token)
                current[key] = new
                reserved[key] = held
            if batch is not None and committed != int(batch["credits_committed"]):
                connection.execute(
                    "UPDATE viesus_batches SET credits_committed = %s WHERE name = %s",
                    (committed, self.batch),
                )
            if lost:
                # Refused for the lease: whatever this worker still holds of them (too little
                # lease left for a create, say) goes back to the queue at once.
                self._release(connection, sorted(lost))
            return stale

        lost: set[ItemKey] = set()
        stale = self._run(body)
        self._forget(lost)
        return stale

    def _forget(self, keys: Iterable[ItemKey]) -> None:
        """Drop claims this worker learnt it lost (or gave back for want of lease time)."""
        with self._held_lock:
            dropped = [key for key in keys if self._claims.pop(key, None) is not None]
            for key in dropped:
                self._deadlines.pop(key, None)
        if dropped:
            log.warning("lost the lease on %d item(s); another worker continues them", len(dropped))

    def _write(self, connection: Connection, record: ItemRecord, reserved: int, token: str) -> None:
        connection.execute(
            "INSERT INTO viesus_items (batch, source_id, params_hash, source, state,"
            " content_hash, upload_id, job_id, attempts, output_path, output_sha256, credits,"
            " reason, reserved, worker, txn)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (batch, source_id, params_hash) DO UPDATE SET"
            " source = excluded.source, state = excluded.state,"
            " content_hash = excluded.content_hash, upload_id = excluded.upload_id,"
            " job_id = excluded.job_id, attempts = excluded.attempts,"
            " output_path = excluded.output_path, output_sha256 = excluded.output_sha256,"
            " credits = excluded.credits, reason = excluded.reason,"
            " reserved = excluded.reserved, worker = excluded.worker, txn = excluded.txn,"
            " updated_at = now()",
            (
                self.batch,
                record.key.source_id,
                record.key.params_hash,
                record.source,
                str(record.state),
                record.content_hash,
                record.upload_id,
                record.job_id,
                record.attempts,
                record.output_path,
                record.output_sha256,
                record.credits,
                record.reason,
                reserved,
                self.worker_id,
                token,
            ),
        )

    def records(self) -> list[ItemRecord]:
        """Every record of the batch, oldest first."""

        def body(connection: Connection) -> list[ItemRecord]:
            rows = connection.execute(
                f"SELECT {_RECORD_COLUMNS} FROM viesus_items"  # noqa: S608 - fixed columns
                " WHERE batch = %s ORDER BY seq",
                (self.batch,),
            ).fetchall()
            return [_record(row) for row in rows]

        return self._run(body)

    # --- claims and leases ----------------------------------------------------------------------

    def claim(self, limit: int, skip: Iterable[ItemKey] = ()) -> list[ItemKey]:
        """Take up to ``limit`` open items nobody holds (or whose lease expired), oldest first.
        ``skip``: items this worker cannot work on (sources it does not have)."""
        skip_ids, skip_params = _key_arrays(skip)

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
            source_ids, params = _key_arrays(held)
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

    def _release(self, connection: Connection, keys: Sequence[ItemKey]) -> None:
        source_ids, params = _key_arrays(keys)
        connection.execute(
            "UPDATE viesus_queue AS q SET holder = NULL, expires = NULL"
            " FROM unnest(%s::text[], %s::text[]) AS k(s, p)"
            " WHERE q.batch = %s AND q.source_id = k.s AND q.params_hash = k.p"
            " AND q.holder = %s",
            (source_ids, params, self.batch, self.worker_id),
        )

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

    # --- operator commands ------------------------------------------------------------------------

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


def _bound(body: Callable[[Connection, T], None], value: T) -> Callable[[Connection], None]:
    return lambda connection: body(connection, value)
