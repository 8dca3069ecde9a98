"""The :class:`~viesus._journal.store.JournalStore` contract on the shared journal: bind, load,
records, and :meth:`apply`, every write fenced by this worker's lease and the batch budget."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from viesus._journal.postgres.budget import Budget
from viesus._journal.postgres.session import (
    RECORD_COLUMNS,
    Session,
    key_arrays,
    record_from_row,
)
from viesus._journal.store import (
    ItemKey,
    ItemRecord,
    ItemState,
    StateChange,
    StoreIdentity,
    check_identity,
)

if TYPE_CHECKING:
    from psycopg.rows import DictRow

    from viesus._journal.postgres.session import Connection

__all__ = ["ItemWrites"]


class ItemWrites(Session):
    """The store-contract calls of :class:`PostgresJournal`."""

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
            recorded = StoreIdentity(row["endpoint"], row["key_fingerprint"])
            check_identity(recorded, identity, f"batch {self.batch!r}", "another batch name")

        self._run(body)

    def load(self, keys: Sequence[ItemKey]) -> dict[ItemKey, ItemRecord]:
        """The stored records of ``keys`` (any worker's writes; reads are not fenced)."""
        if not keys:
            return {}
        source_ids, params = key_arrays(keys)

        def body(connection: Connection) -> dict[ItemKey, ItemRecord]:
            rows = connection.execute(
                f"SELECT {RECORD_COLUMNS} FROM viesus_items AS i"  # noqa: S608 - fixed columns
                " JOIN unnest(%s::text[], %s::text[]) AS k(s, p)"
                " ON i.source_id = k.s AND i.params_hash = k.p WHERE i.batch = %s",
                (source_ids, params, self.batch),
            ).fetchall()
            return {record.key: record for record in map(record_from_row, rows)}

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
        lost: set[ItemKey] = set()
        stale = self._run(lambda connection: self._apply(connection, changes, token, lost))
        self._forget(lost)
        return stale

    def _apply(
        self,
        connection: Connection,
        changes: Sequence[StateChange],
        token: str,
        lost: set[ItemKey],
    ) -> set[ItemKey]:
        """The body of :meth:`apply`; ``lost`` collects the keys refused for their lease."""
        lost.clear()  # (a replay after a lost connection starts over)
        keys = sorted({change.record.key for change in changes})
        with self._held_lock:
            claims = {key: self._claims[key] for key in keys if key in self._claims}
        budgeted = any(
            change.record.state in (ItemState.CREATE_INTENT, ItemState.FAILED) for change in changes
        )
        # Lock order, everywhere: the batch row, then queue rows, then item rows, by key.
        budget = Budget.of(self._batch_row(connection, lock=True) if budgeted else None)
        leases = self._locked_leases(connection, keys)
        current, reserved, replayed = self._locked_items(connection, keys, token)
        stale: set[ItemKey] = set()
        for change in changes:
            new = change.record
            key = new.key
            if not self._fenced(leases.get(key), claims.get(key), new.state):
                stale.add(key)
                lost.add(key)
                continue
            if key in replayed:
                continue  # this very call wrote it before its commit answer was lost
            old = current.get(key)
            if (old.state if old is not None else None) != change.expected:
                stale.add(key)
                continue
            held = budget.reserve(new.state, reserved.get(key, 0))
            if held is None:
                self.over_budget.add(key)
                stale.add(key)
                continue
            self._write(connection, new, held, token)
            current[key] = new
            reserved[key] = held
        budget.save(connection, self.batch)
        if lost:
            # Refused for the lease: whatever this worker still holds of them (too little
            # lease left for a create, say) goes back to the queue at once.
            self._release(connection, sorted(lost))
        return stale

    def _fenced(self, lease: DictRow | None, generation: int | None, state: ItemState) -> bool:
        """This worker still holds the lease it claimed (with a create window for an intent)."""
        return not (
            lease is None
            or lease["holder"] != self.worker_id
            or lease["generation"] != generation
            or not lease["live"]
            or (state is ItemState.CREATE_INTENT and not lease["long_enough"])
        )

    def _locked_leases(self, connection: Connection, keys: list[ItemKey]) -> dict[ItemKey, DictRow]:
        """The queue rows of ``keys``, locked, with whether each lease is live (and long enough
        for a create) on the database's clock."""
        source_ids, params = key_arrays(keys)
        rows = connection.execute(
            "SELECT q.source_id, q.params_hash, q.holder, q.generation,"
            " q.expires > now() AS live,"
            " q.expires > now() + make_interval(secs => %s) AS long_enough"
            " FROM viesus_queue AS q JOIN unnest(%s::text[], %s::text[]) AS k(s, p)"
            " ON q.source_id = k.s AND q.params_hash = k.p WHERE q.batch = %s"
            " ORDER BY q.source_id, q.params_hash FOR UPDATE OF q",
            (self.lease.create_window, source_ids, params, self.batch),
        ).fetchall()
        return {ItemKey(row["source_id"], row["params_hash"]): row for row in rows}

    def _locked_items(
        self, connection: Connection, keys: list[ItemKey], token: str
    ) -> tuple[dict[ItemKey, ItemRecord], dict[ItemKey, int], set[ItemKey]]:
        """The item rows of ``keys``, locked: records, credits reserved, and the keys this very
        call (``token``) wrote already."""
        source_ids, params = key_arrays(keys)
        rows = connection.execute(
            f"SELECT {RECORD_COLUMNS}, reserved, txn FROM viesus_items AS i"  # noqa: S608
            " JOIN unnest(%s::text[], %s::text[]) AS k(s, p)"
            " ON i.source_id = k.s AND i.params_hash = k.p WHERE i.batch = %s"
            " ORDER BY i.source_id, i.params_hash FOR UPDATE OF i",
            (source_ids, params, self.batch),
        ).fetchall()
        current: dict[ItemKey, ItemRecord] = {}
        reserved: dict[ItemKey, int] = {}
        replayed: set[ItemKey] = set()
        for row in rows:
            record = record_from_row(row)
            current[record.key] = record
            reserved[record.key] = int(row["reserved"])
            if row["txn"] == token:
                replayed.add(record.key)
        return current, reserved, replayed

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
                f"SELECT {RECORD_COLUMNS} FROM viesus_items"  # noqa: S608 - fixed columns
                " WHERE batch = %s ORDER BY seq",
                (self.batch,),
            ).fetchall()
            return [record_from_row(row) for row in rows]

        return self._run(body)
