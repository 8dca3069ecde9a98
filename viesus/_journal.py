"""A SQLite journal that makes a crashed or cancelled batch resumable with no duplicate job.

Every enhancement costs credits and VIESUS has no idempotency key, so the one safe rule is to
write down the intent to create a job *before* the request and the job id right after the
answer. After a crash an item is in one of these states, and a rerun knows what to do:

========== ===================================================================================
state      what a rerun does
========== ===================================================================================
uploaded   the upload id is known: create the job, without uploading again
intent     a create request may or may not have reached the service: list the upload's
           enhancements and adopt a matching job before creating again (reconciliation)
created    the job id is known: wait for it, never create again
finished   done: skip (the output is at ``output_path``)
failed     the job or the item failed (``error_code``): retry only on request
========== ===================================================================================

An item is keyed by what it *is*, not by where it was found: the sha256 of the input's content
(or of the URL) plus the sha256 of the canonical options. Renaming a file does not redo it;
changing one option does.

Nothing secret is stored: URLs pass through ``redact_url`` (signed URLs keep their tokens in
the query string), and no API key or webhook secret ever reaches this module. Writes are
single autocommitted statements on a WAL database with ``synchronous=FULL``: when a method
returns, its row is on disk.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Final, Literal, Self, TypeGuard, cast

from viesus._errors import JournalError
from viesus._redact import redact_url
from viesus_client.input_types import EnhancedImageInput

if TYPE_CHECKING:
    import sqlite3

__all__ = [
    "SCHEMA_VERSION",
    "ItemState",
    "Journal",
    "JournalItem",
    "JournalKey",
    "hash_file",
    "hash_params",
    "hash_url",
    "item_key",
]

SCHEMA_VERSION: Final = 1
_CHUNK_SIZE: Final = 1 << 20

ItemState = Literal["uploaded", "intent", "created", "finished", "failed"]
_UNFINISHED: Final = ("uploaded", "intent", "created")
# A new create request is refused while a job exists or may exist unreconciled elsewhere:
# from "created"/"finished" it would be a second charged job for the same item.
_MAY_CREATE_FROM: Final = frozenset({"uploaded", "intent", "failed"})

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS items (
    input_hash  TEXT NOT NULL,
    params_hash TEXT NOT NULL,
    source      TEXT NOT NULL,
    upload_id   TEXT,
    job_id      TEXT,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    output_path TEXT,
    credits     INTEGER,
    error_code  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (input_hash, params_hash)
)
"""


@dataclass(frozen=True, order=True)
class JournalKey:
    """Identity of one batch item: what the input is and what is asked of it."""

    input_hash: str
    params_hash: str

    def __str__(self) -> str:
        return f"{self.input_hash[:12]}/{self.params_hash[:12]}"


@dataclass(frozen=True)
class JournalItem:
    """One row of the journal, as read; ``attempts`` counts create intents."""

    key: JournalKey
    source: str
    upload_id: str | None
    job_id: str | None
    state: ItemState
    attempts: int
    output_path: str | None
    credits: int | None
    error_code: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def needs_reconciliation(self) -> bool:
        """A create may have reached the service without its answer reaching us."""
        return self.state == "intent"


def hash_file(path: Path, chunk_size: int = _CHUNK_SIZE) -> str:
    """sha256 hex of a file's content, read in chunks (a 500 MB TIFF never sits in memory)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def hash_url(url: str) -> str:
    """sha256 hex of a URL source, as given (the service fetches it; we never do)."""
    return hashlib.sha256(url.encode()).hexdigest()


def hash_params(options: EnhancedImageInput) -> str:
    """sha256 hex of the canonical JSON of the options the caller set.

    Canonical: GraphQL names, only fields explicitly set, sorted keys, no whitespace, so equal
    requests hash equally whatever order or spelling (alias or Python name) built them.
    """
    payload = options.model_dump(mode="json", by_alias=True, exclude_unset=True)
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def item_key(source: str | Path, options: EnhancedImageInput) -> JournalKey:
    """The key of a local file (content hash) or an ``http(s)://`` URL (hash of the URL)."""
    input_hash = hash_url(source) if _is_url(source) else hash_file(Path(source))
    return JournalKey(input_hash, hash_params(options))


def _is_url(source: str | Path) -> TypeGuard[str]:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def _safe_source(source: str | Path) -> str:
    """How a source is stored: a path as given, a URL without query, fragment or userinfo."""
    return redact_url(source) if _is_url(source) else str(source)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Journal:
    """The batch journal: one SQLite file, one connection, every method thread- and task-safe.

    The facade calls it from async code directly: each method is one short statement on a
    local file, cheaper than handing it to a thread. Use ``Journal.open(path)`` (or the class
    as a context manager) and ``close()`` when done.
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

        Raises ``JournalError`` if the file was written by a newer toolkit (its schema version
        is higher than this one knows): reading it could silently lose what it records.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        process_lock = _lock_exclusively(path)
        try:
            import sqlite3  # loaded when a journal is opened, not at import

            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except BaseException:
            _release(process_lock)
            raise
        try:
            _prepare(connection, path)
        except BaseException:
            connection.close()
            _release(process_lock)
            raise
        return cls(connection, path, process_lock)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def close(self) -> None:
        """Close the connection; every write is already committed."""
        with self._lock:
            self._connection.close()
            _release(self._process_lock)
            self._process_lock = None

    # --- reads ---------------------------------------------------------------------------

    def get(self, key: JournalKey) -> JournalItem | None:
        """The item's row, or ``None`` if it was never recorded."""
        rows = self._select(
            "WHERE input_hash = ? AND params_hash = ?", key.input_hash, key.params_hash
        )
        return rows[0] if rows else None

    def items(self) -> list[JournalItem]:
        """Every item, oldest first."""
        return self._select("")

    def unfinished(self) -> list[JournalItem]:
        """Items a rerun must continue: uploaded, intent (reconcile first) or created (wait)."""
        marks = ", ".join("?" for _ in _UNFINISHED)
        return self._select(f"WHERE state IN ({marks})", *_UNFINISHED)

    def __iter__(self) -> Iterator[JournalItem]:
        return iter(self.items())

    # --- writes, in the order a batch item goes through them -----------------------------

    def record_upload(self, key: JournalKey, source: str | Path, upload_id: str) -> None:
        """The upload exists (signed upload completed, or URL accepted): never upload again.

        Creates the row; a later call for the same key only refreshes source and upload id
        (for an item whose earlier upload expired), never its job state.
        """
        now = _now()
        self._write(
            """
            INSERT INTO items (input_hash, params_hash, source, upload_id, state,
                               created_at, updated_at)
            VALUES (?, ?, ?, ?, 'uploaded', ?, ?)
            ON CONFLICT (input_hash, params_hash)
            DO UPDATE SET source = excluded.source, upload_id = excluded.upload_id,
                          updated_at = excluded.updated_at
            """,
            key.input_hash,
            key.params_hash,
            _safe_source(source),
            upload_id,
            now,
            now,
        )

    def record_intent(self, key: JournalKey) -> None:
        """Written BEFORE the create request: from now on a crash means "reconcile first".

        Refused (``JournalError``) when the item already has a job (``created``/``finished``):
        creating again would charge twice for the same item.
        """
        with self._lock:
            state = self._state(key)
            if state not in _MAY_CREATE_FROM:
                raise JournalError(
                    f"item {key} is {state}: it already has a job, creating another would be "
                    "charged twice"
                )
            self._execute(
                """
                UPDATE items SET state = 'intent', attempts = attempts + 1, job_id = NULL,
                                 error_code = NULL, updated_at = ?
                WHERE input_hash = ? AND params_hash = ?
                """,
                _now(),
                key.input_hash,
                key.params_hash,
            )

    def record_job(self, key: JournalKey, job_id: str) -> None:
        """Written right after the create answer (or after reconciliation found the job)."""
        self._update(key, "state = 'created', job_id = ?", job_id)

    def record_finished(self, key: JournalKey, output_path: str | Path, credits: int) -> None:
        """The result is downloaded to ``output_path``; ``credits`` were charged for it."""
        self._update(
            key,
            "state = 'finished', output_path = ?, credits = ?, error_code = NULL",
            str(output_path),
            credits,
        )

    def record_failed(self, key: JournalKey, error_code: str) -> None:
        """The job ended in ERROR, or the item failed for good (``error_code`` says why)."""
        self._update(key, "state = 'failed', error_code = ?", error_code)

    # --- internals -----------------------------------------------------------------------

    def _update(self, key: JournalKey, assignments: str, *values: object) -> None:
        with self._lock:
            self._state(key)
            self._execute(
                # ``assignments`` is fixed text from this class; values are bound parameters.
                f"UPDATE items SET {assignments}, updated_at = ? "  # noqa: S608
                "WHERE input_hash = ? AND params_hash = ?",
                *values,
                _now(),
                key.input_hash,
                key.params_hash,
            )

    def _state(self, key: JournalKey) -> str:
        """The item's state (lock held); ``JournalError`` if the item was never uploaded."""
        row = self._connection.execute(
            "SELECT state FROM items WHERE input_hash = ? AND params_hash = ?",
            (key.input_hash, key.params_hash),
        ).fetchone()
        if row is None:
            raise JournalError(f"item {key} is not in the journal: record its upload first")
        return cast(str, row[0])

    def _write(self, sql: str, *values: object) -> None:
        with self._lock:
            self._execute(sql, *values)

    def _execute(self, sql: str, *values: object) -> None:
        self._connection.execute(sql, values)

    def _select(self, where: str, *values: object) -> list[JournalItem]:
        # Only fixed clauses from this class reach ``where``; every value is a bound parameter.
        sql = (
            "SELECT input_hash, params_hash, source, upload_id, job_id, state, attempts, "  # noqa: S608
            "output_path, credits, error_code, created_at, updated_at FROM items "
            f"{where} ORDER BY created_at, rowid"
        )
        with self._lock:
            rows = self._connection.execute(sql, values).fetchall()
        return [_item(row) for row in rows]


def _item(row: tuple[object, ...]) -> JournalItem:
    (input_hash, params_hash, source, upload_id, job_id, state, attempts) = row[:7]
    (output_path, credits, error_code, created_at, updated_at) = row[7:]
    return JournalItem(
        key=JournalKey(str(input_hash), str(params_hash)),
        source=str(source),
        upload_id=cast(str | None, upload_id),
        job_id=cast(str | None, job_id),
        state=cast(ItemState, state),
        attempts=cast(int, attempts),
        output_path=cast(str | None, output_path),
        credits=cast(int | None, credits),
        error_code=cast(str | None, error_code),
        created_at=datetime.fromisoformat(str(created_at)),
        updated_at=datetime.fromisoformat(str(updated_at)),
    )


def _prepare(connection: sqlite3.Connection, path: Path) -> None:
    """WAL, full sync, a busy timeout; create or check the schema (``PRAGMA user_version``)."""
    connection.execute("PRAGMA busy_timeout = 5000")
    version = cast(int, connection.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"{path} was written by a newer viesus-toolkit (journal schema {version}, this "
            f"version reads up to {SCHEMA_VERSION}): upgrade the toolkit or use another journal"
        )
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    if version < SCHEMA_VERSION:
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(_SCHEMA)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise


def _lock_exclusively(path: Path) -> IO[bytes] | None:
    """Hold ``PATH.lock`` for as long as the journal is open: two batches running on one
    journal at once would each see the other's intents as theirs to reconcile, and create
    twice. POSIX ``flock``; where that does not exist (Windows) no lock is taken."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    handle = open(path.with_name(path.name + ".lock"), "ab")  # noqa: SIM115 - held until close()
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
