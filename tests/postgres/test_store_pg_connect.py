"""Connecting to the shared journal: what waiting cannot fix fails at once, with its reason.

A wrong database, role or password, or a malformed DSN, is refused the same way on every try:
retrying it for ``outage_limit`` seconds only hides the reason. A refused connection or a
server starting up may pass: it is retried, each retry saying why. Against a real server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.pg_server import PostgresServer
from viesus import ConfigurationError
from viesus._errors import JournalConfigurationError, JournalError
from viesus._journal.postgres.errors import explain
from viesus._journal.postgres.journal import PostgresJournal

PASSWORD = "s3cret-pw-never-shown"
PASSWORD_ROLE = "viesus_password_role"


def dsn_for(server: PostgresServer, *, user: str = "postgres", database: str = "postgres") -> str:
    return f"postgresql://{user}:{PASSWORD}@127.0.0.1:{server.port}/{database}"


def refused_at_once(dsn: str, caplog: pytest.LogCaptureFixture) -> str:
    """Open ``dsn`` (retries allowed for 30 s); it must fail within 5 s, without a retry."""
    began = time.monotonic()
    with caplog.at_level("DEBUG"), pytest.raises(JournalConfigurationError) as caught:
        PostgresJournal.open(dsn, "b1", outage_limit=30)
    assert time.monotonic() - began < 5
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]
    message = str(caught.value)
    assert isinstance(caught.value, ConfigurationError | JournalError)
    assert "\n" not in message
    assert PASSWORD not in message + caplog.text
    return message


def test_a_database_that_does_not_exist_fails_at_once(
    pg_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    message = refused_at_once(dsn_for(pg_server, database="nodb"), caplog)
    assert f"postgresql://127.0.0.1:{pg_server.port}/nodb" in message
    assert 'database "nodb" does not exist' in message


def test_a_role_that_does_not_exist_fails_at_once(
    pg_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    message = refused_at_once(dsn_for(pg_server, user="nobody"), caplog)
    assert 'role "nobody" does not exist' in message


@pytest.fixture(scope="module")
def password_role(pg_server: PostgresServer) -> Iterator[str]:
    """A role that must give its password over TCP (the test server trusts everyone else)."""
    hba = pg_server.data_dir / "pg_hba.conf"
    original = hba.read_text()
    rule = f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
    hba.write_text(rule + original)
    with psycopg.connect(pg_server.dsn, autocommit=True) as connection:
        connection.execute(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD 'the-right-one'".encode())
        connection.execute("SELECT pg_reload_conf()")
    yield PASSWORD_ROLE
    hba.write_text(original)
    with psycopg.connect(pg_server.dsn, autocommit=True) as connection:
        connection.execute("SELECT pg_reload_conf()")
        connection.execute(f"DROP ROLE {PASSWORD_ROLE}".encode())


def test_a_wrong_password_fails_at_once(
    pg_server: PostgresServer, password_role: str, caplog: pytest.LogCaptureFixture
) -> None:
    message = refused_at_once(dsn_for(pg_server, user=password_role), caplog)
    assert f'password authentication failed for user "{password_role}"' in message


@pytest.mark.parametrize(
    "dsn",
    [
        f"postgresql://lab:{PASSWORD}@[db.lab/viesus",  # libpq quotes the whole URI
        f"postgresql://lab:%zz{PASSWORD}@db.lab/viesus",  # ... or the bad token, password and all
        f"postgresql://lab:{PASSWORD}@db.lab/viesus?bogus=1",
    ],
)
def test_a_malformed_dsn_fails_at_once_without_echoing_it(
    dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    message = refused_at_once(dsn, caplog)
    assert "malformed" in message


def test_a_refused_connection_is_retried_saying_why(caplog: pytest.LogCaptureFixture) -> None:
    dsn = f"postgresql://lab:{PASSWORD}@127.0.0.1:1/viesus"  # nothing listens on port 1
    with caplog.at_level("DEBUG"), pytest.raises(JournalError) as caught:
        PostgresJournal.open(dsn, "b1", outage_limit=0.5)
    assert not isinstance(caught.value, JournalConfigurationError)
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retries
    assert all("connection refused" in line and "\n" not in line for line in retries)
    assert "connection refused" in str(caught.value)
    assert PASSWORD not in str(caught.value) + caplog.text


@pytest.mark.parametrize(
    ("error", "permanent", "reason"),
    [
        (psycopg.errors.InvalidPassword("x"), True, "x"),
        (psycopg.errors.InvalidAuthorizationSpecification("x"), True, "x"),
        (psycopg.errors.InvalidCatalogName("x"), True, "x"),
        (psycopg.errors.CannotConnectNow("x"), False, "x"),
        (psycopg.errors.AdminShutdown("x"), False, "x"),
        (
            psycopg.OperationalError(
                'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
                "FATAL:  the database system is starting up"
            ),
            False,
            "the database system is starting up",
        ),
        (
            psycopg.OperationalError(
                'connection failed: connection to server at "10.0.0.9", port 5432 failed: '
                "timeout expired"
            ),
            False,
            "timeout expired",
        ),
        (psycopg.OperationalError("server closed the connection unexpectedly"), False, None),
        (psycopg.OperationalError("connection is bad: invalid sslmode value: 'x'"), True, None),
    ],
)
def test_errors_are_told_apart_by_sqlstate_or_by_the_servers_words(
    error: psycopg.Error, permanent: bool, reason: str | None
) -> None:
    failure = explain(error)
    assert failure.permanent is permanent
    if reason is not None:
        assert failure.reason == reason
