"""The SQLite journal: a :class:`~viesus._journal.store.JournalStore` in one local file.

One ``items`` row per item and a ``meta`` table with the endpoint and key fingerprint, in a WAL
database with ``synchronous=FULL``, locked for one batch at a time (see
ARCHITECTURE-notes-r2.md, "The SQLite journal").
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, Self, TypeVar, cast

from viesus._errors import JournalError
from viesus._journal.store import (
    ItemKey,
    ItemRecord,
    ItemState,
    StateChange,
    StoreIdentity,
    check_identity,
)

if TYPE_CHECKING:
    import sqlite3

__all__ = ["SCHEMA_VERSION", "Journal"]

SCHEMA_VERSION: Final = 2
# "VIES": marks a SQLite file as a viesus journal (PRAGMA application_id).
APPLICATION_ID: Final = 0x56494553
T = TypeVar("T")

_SCHEMA: Final = (
    """
    CREATE TABLE meta (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE items (
        source_id     TEXT NOT NULL,
        params_hash   TEXT NOT NULL,
        source        TEXT NOT NULL,
        state         TEXT NOT NULL,
        content_hash  TEXT,
        upload_id     TEXT,
        job_id        TEXT,
        attempts      INTEGER NOT NULL DEFAULT 0,
        output_path   TEXT,
        output_sha256 TEXT,
        credits       INTEGER,
        reason        TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        PRIMARY KEY (source_id, params_hash)
    )
    """,
)
_COLUMNS: Final = (
    "source_id, params_hash, source, state, content_hash, upload_id, job_id, attempts, "
    "output_path, output_sha256, credits, reason, updated_at"
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


# --- the store -------------------------------------------------------------------------------


class Journal:
    """The SQLite journal store. ``Journal.open(path)``, then pass it as ``journal=``.

    Thread-safe (one connection behind a lock); the pipeline calls it from worker threads.
    Usable as a context manager; ``close()`` releases the file lock.
    """

    def __init__(
        self, connection: sqlite3.Connection, path: Path, process_lock: IO[bytes] | None = None
    ) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self._process_lock = process_lock
        self.path = path

    @classmethod
    def open(cls, path: Path | str) -> Journal:
        """Open or create the journal at ``path`` (parent directories included).

        ``JournalError`` (never a raw ``sqlite3`` error) when ``path`` is a directory, not a
        SQLite file, another application's database, a journal of an older or newer layout,
        or in use by another running batch.
        """
        path = Path(path)
        if path.is_dir():
            raise JournalError(f"the journal {path} is a directory; pass a file path")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(
                f"cannot create the folder of the journal {path} ({exc.strerror})"
            ) from None
        process_lock = _lock_exclusively(path)
        try:
            import sqlite3  # loaded when a journal is opened, not at import

            try:
                connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            except sqlite3.Error as exc:
                raise JournalError(f"cannot open the journal {path}: {exc}") from None
            try:
                _prepare(connection, path)
            except BaseException:
                connection.close()
                raise
        except BaseException:
            _release(process_lock)
            raise
        return cls(connection, path, process_lock)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def close(self) -> None:
        """Close the connection and release the lock; every applied change is on disk."""
        with self._lock:
            self._connection.close()
            _release(self._process_lock)
            self._process_lock = None

    # --- JournalStore ----------------------------------------------------------------------

    def bind(self, identity: StoreIdentity) -> None:
        """Record endpoint and key fingerprint on first use; refuse another later."""

        def bind(connection: sqlite3.Connection) -> None:
            rows = dict(connection.execute("SELECT name, value FROM meta").fetchall())
            stored = (rows.get("endpoint"), rows.get("key_fingerprint"))
            if stored == (None, None):
                connection.executemany(
                    "INSERT INTO meta (name, value) VALUES (?, ?)",
                    [
                        ("endpoint", identity.endpoint),
                        ("key_fingerprint", identity.key_fingerprint),
                    ],
                )
                return
            recorded = StoreIdentity(str(stored[0]), str(stored[1]))
            check_identity(recorded, identity, f"the journal {self.path}", "another journal file")

        self._transaction(bind)

    def load(self, keys: Sequence[ItemKey]) -> dict[ItemKey, ItemRecord]:
        """The stored records of ``keys``."""

        def load(connection: sqlite3.Connection) -> dict[ItemKey, ItemRecord]:
            found: dict[ItemKey, ItemRecord] = {}
            for key in keys:
                row = connection.execute(
                    f"SELECT {_COLUMNS} FROM items WHERE source_id = ? AND params_hash = ?",  # noqa: S608 - fixed text
                    (key.source_id, key.params_hash),
                ).fetchone()
                if row is not None:
                    found[key] = _record(row)
            return found

        return self._transaction(load)

    def apply(self, changes: Sequence[StateChange]) -> set[ItemKey]:
        """One transaction: write each change whose row is in its ``expected`` state."""
        if not changes:
            return set()

        def apply(connection: sqlite3.Connection) -> set[ItemKey]:
            stale: set[ItemKey] = set()
            now = _now()
            for change in changes:
                record = change.record
                row = connection.execute(
                    "SELECT state FROM items WHERE source_id = ? AND params_hash = ?",
                    (record.key.source_id, record.key.params_hash),
                ).fetchone()
                current = None if row is None else str(row[0])
                if current != (None if change.expected is None else change.expected.value):
                    stale.add(record.key)
                    continue
                connection.execute(
                    """
                    INSERT INTO items (source_id, params_hash, source, state, content_hash,
                                       upload_id, job_id, attempts, output_path, output_sha256,
                                       credits, reason, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (source_id, params_hash) DO UPDATE SET
                        source = excluded.source, state = excluded.state,
                        content_hash = excluded.content_hash, upload_id = excluded.upload_id,
                        job_id = excluded.job_id, attempts = excluded.attempts,
                        output_path = excluded.output_path,
                        output_sha256 = excluded.output_sha256, credits = excluded.credits,
                        reason = excluded.reason, updated_at = excluded.updated_at
                    """,
                    (
                        record.key.source_id,
                        record.key.params_hash,
                        record.source,
                        record.state.value,
                        record.content_hash,
                        record.upload_id,
                        record.job_id,
                        record.attempts,
                        record.output_path,
                        record.output_sha256,
                        record.credits,
                        record.reason,
                        now,
                        now,
                    ),
                )
            return stale

        return self._transaction(apply)

    def records(self) -> list[ItemRecord]:
        """Every record, oldest first."""

        def records(connection: sqlite3.Connection) -> list[ItemRecord]:
            rows = connection.execute(
                f"SELECT {_COLUMNS} FROM items ORDER BY created_at, rowid"  # noqa: S608 - fixed text
            ).fetchall()
            return [_record(row) for row in rows]

        return self._transaction(records)

    def items(self) -> list[ItemRecord]:
        """Every record, oldest first (the name of 0.1; same as :meth:`records`)."""
        return self.records()

    def __iter__(self) -> Iterator[ItemRecord]:
        return iter(self.records())

    def identity(self) -> StoreIdentity | None:
        """The endpoint and key fingerprint recorded by :meth:`bind`, if any."""

        def identity(connection: sqlite3.Connection) -> StoreIdentity | None:
            rows = dict(connection.execute("SELECT name, value FROM meta").fetchall())
            if "endpoint" not in rows:
                return None
            return StoreIdentity(str(rows["endpoint"]), str(rows["key_fingerprint"]))

        return self._transaction(identity)

    # --- internals -------------------------------------------------------------------------

    def _transaction(self, body: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``body`` in one ``BEGIN IMMEDIATE`` transaction; sqlite errors -> JournalError."""
        import sqlite3

        with self._lock:
            try:
                self._connection.execute("BEGIN IMMEDIATE")
            except sqlite3.ProgrammingError:
                raise JournalError(f"the journal {self.path} is closed") from None
            except sqlite3.Error as exc:
                raise JournalError(f"the journal {self.path} cannot be written: {exc}") from None
            try:
                result = body(self._connection)
                self._connection.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):  # already rolled back by sqlite
                    self._connection.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise JournalError(f"the journal {self.path} failed: {exc}") from None
                raise
            return result


def _record(row: tuple[object, ...]) -> ItemRecord:
    (source_id_, params_hash, source, state, content_hash, upload_id, job_id) = row[:7]
    (attempts, output_path, output_sha256, credits, reason, updated_at) = row[7:]
    return ItemRecord(
        key=ItemKey(str(source_id_), str(params_hash)),
        source=str(source),
        state=ItemState(str(state)),
        content_hash=cast(str | None, content_hash),
        upload_id=cast(str | None, upload_id),
        job_id=cast(str | None, job_id),
        attempts=cast(int, attempts),
        output_path=cast(str | None, output_path),
        output_sha256=cast(str | None, output_sha256),
        credits=cast(int | None, credits),
        reason=cast(str | None, reason),
        updated_at=datetime.fromisoformat(str(updated_at)),
    )


def _prepare(connection: sqlite3.Connection, path: Path) -> None:
    """Check the file is a journal we can read (or empty), then WAL, full sync, schema."""
    import sqlite3

    try:
        connection.execute("PRAGMA busy_timeout = 5000")
        application_id = cast(int, connection.execute("PRAGMA application_id").fetchone()[0])
        version = cast(int, connection.execute("PRAGMA user_version").fetchone()[0])
        tables = {
            str(row[0])
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    except sqlite3.DatabaseError:
        raise JournalError(
            f"{path} is not a viesus journal (not a SQLite database); pass another path, "
            "or move that file away"
        ) from None
    if tables and application_id != APPLICATION_ID:
        if version == 1 and "items" in tables:
            raise JournalError(
                f"{path} is a journal of viesus-toolkit 0.1 (schema 1, keyed by content): "
                "finish that batch with the version that wrote it, or start a new journal file"
            )
        raise JournalError(
            f"{path} is another application's database, not a viesus journal; pass another path"
        )
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"{path} was written by a newer viesus-toolkit (journal schema {version}, this "
            f"version reads up to {SCHEMA_VERSION}): upgrade the toolkit or use another journal"
        )
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")
        if not tables:
            connection.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA:
                    connection.execute(statement)
                connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
    except sqlite3.Error as exc:
        raise JournalError(f"cannot prepare the journal {path}: {exc}") from None


def _lock_exclusively(path: Path) -> IO[bytes] | None:
    """Hold ``PATH.lock`` for as long as the journal is open: two batches running on one
    journal at once would each see the other's intents as theirs to reconcile, and create
    twice. POSIX ``flock``; where that does not exist (Windows) no lock is taken."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    try:
        handle = open(path.with_name(path.name + ".lock"), "ab")  # noqa: SIM115 - held until close()
    except OSError as exc:
        raise JournalError(f"cannot lock the journal {path} ({exc.strerror})") from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise JournalError(
            f"the journal {path} is in use by another running batch; wait for it to end "
            "or use another journal file"
        ) from None
    return handle


def _release(handle: IO[bytes] | None) -> None:
    if handle is not None:
        handle.close()  # closing the descriptor releases the flock
