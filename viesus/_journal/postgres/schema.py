"""The PostgreSQL journal's schema, created and migrated by the toolkit.

Versions live in ``viesus_schema_version`` (one row per applied migration). Workers starting
together migrate under one advisory lock, so each migration runs once; a database written by a
newer toolkit is refused (reading it could lose what it records), and commands that only look
(``viesus batch status``) check the schema without creating anything.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from viesus._errors import JournalError

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import DictRow

    Connection = psycopg.Connection[DictRow]

log = logging.getLogger("viesus._store_pg")

__all__ = ["SCHEMA_VERSION", "check_schema", "migrate"]

SCHEMA_VERSION: Final = 1
MIGRATION_LOCK: Final = 0x56494553  # "VIES": the advisory lock id for schema migrations
MIGRATIONS: Final[dict[int, str]] = {
    1: """
    CREATE TABLE viesus_batches (
        name              text PRIMARY KEY,
        endpoint          text,
        key_fingerprint   text,
        params_hash       text NOT NULL,
        out_dir           text NOT NULL,
        cost              integer NOT NULL,
        max_credits       integer,
        credits_committed integer NOT NULL DEFAULT 0,
        created_at        timestamptz NOT NULL DEFAULT now()
    );
    -- The work queue: one row per item of a batch, with its lease and its outcome.
    CREATE TABLE viesus_queue (
        batch       text NOT NULL REFERENCES viesus_batches (name) ON DELETE CASCADE,
        source_id   text NOT NULL,
        params_hash text NOT NULL,
        source      text NOT NULL,
        seq         bigserial,
        holder      text,
        generation  bigint NOT NULL DEFAULT 0,
        expires     timestamptz,
        outcome     text,
        reason      text,
        settled_by  text,
        settled_at  timestamptz,
        PRIMARY KEY (batch, source_id, params_hash)
    );
    CREATE INDEX viesus_queue_open ON viesus_queue (batch, seq) WHERE outcome IS NULL;
    -- The journal records, as the JournalStore contract defines them (one per item).
    CREATE TABLE viesus_items (
        batch         text NOT NULL REFERENCES viesus_batches (name) ON DELETE CASCADE,
        source_id     text NOT NULL,
        params_hash   text NOT NULL,
        source        text NOT NULL,
        state         text NOT NULL,
        content_hash  text,
        upload_id     text,
        job_id        text,
        attempts      integer NOT NULL DEFAULT 0,
        output_path   text,
        output_sha256 text,
        credits       integer,
        reason        text,
        reserved      integer NOT NULL DEFAULT 0,
        worker        text,
        txn           text,
        seq           bigserial,
        updated_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (batch, source_id, params_hash)
    );
    CREATE TABLE viesus_workers (
        batch      text NOT NULL REFERENCES viesus_batches (name) ON DELETE CASCADE,
        worker     text NOT NULL,
        host       text NOT NULL,
        pid        integer NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        last_seen  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (batch, worker)
    );
    """,
}


def migrate(connection: Connection, shown_dsn: str) -> None:
    """Create or migrate the schema in the caller's transaction, under the advisory lock."""
    connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
    connection.execute(
        "CREATE TABLE IF NOT EXISTS viesus_schema_version ("
        " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    row = connection.execute("SELECT max(version) AS v FROM viesus_schema_version").fetchone()
    current = int(row["v"]) if row is not None and row["v"] is not None else 0
    if current > SCHEMA_VERSION:
        raise JournalError(
            f"the journal database {shown_dsn} was written by a newer viesus-toolkit (schema "
            f"{current}; this one knows up to {SCHEMA_VERSION}): upgrade the toolkit on this "
            "worker"
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        connection.execute(MIGRATIONS[version].encode())
        connection.execute("INSERT INTO viesus_schema_version (version) VALUES (%s)", (version,))
        log.info("journal schema migrated to version %d", version)


def check_schema(connection: Connection, shown_dsn: str) -> None:
    """``JournalError`` unless the schema is there at this toolkit's version; creates nothing."""
    row = connection.execute(
        "SELECT to_regclass('viesus_schema_version') IS NOT NULL AS present"
    ).fetchone()
    version = None
    if row is not None and row["present"]:
        found = connection.execute("SELECT max(version) AS v FROM viesus_schema_version").fetchone()
        version = found["v"] if found is not None else None
    if version != SCHEMA_VERSION:
        raise JournalError(
            f"{shown_dsn} holds no viesus journal of schema {SCHEMA_VERSION} "
            f"(found {version or 'none'}): a worker creates it when it starts"
        )
