"""The shared journal's door: :class:`PostgresJournal`, one worker's handle on one named batch
in PostgreSQL (a :class:`~viesus._journal.store.JournalStore` plus queue, leases, budget and
status). The design is in SCALING.md and ARCHITECTURE-notes-r2.md."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from viesus._errors import JournalError
from viesus._journal.postgres.items import ItemWrites
from viesus._journal.postgres.leases import QueueAndLeases
from viesus._journal.postgres.schema import SCHEMA_VERSION, check_schema, migrate
from viesus._journal.postgres.settings import (
    INSTALL_HINT,
    BatchSettings,
    LeaseTimes,
    default_worker_id,
    is_postgres_url,
    lease_clock,
    redact_dsn,
)
from viesus._journal.postgres.status import BatchStatus, StatusReport, WorkerStatus

if TYPE_CHECKING:
    from viesus._journal.postgres.session import Connection

__all__ = [
    "INSTALL_HINT",
    "SCHEMA_VERSION",
    "BatchSettings",
    "BatchStatus",
    "LeaseTimes",
    "PostgresJournal",
    "WorkerStatus",
    "default_worker_id",
    "is_postgres_url",
    "redact_dsn",
]


class PostgresJournal(ItemWrites, QueueAndLeases, StatusReport):
    """One worker's handle on one batch. :meth:`open`, :meth:`join`, then the pipeline's calls.

    Thread-safe: every call is one transaction under one lock (the pipeline calls from worker
    threads; the lease renewer from another).
    """

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

    def _migrate(self, connection: Connection) -> None:
        migrate(connection, redact_dsn(self.dsn))

    def _check_schema(self, connection: Connection) -> None:
        check_schema(connection, redact_dsn(self.dsn))

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
