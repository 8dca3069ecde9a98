"""The test server itself: it really is PostgreSQL, reachable over TCP, and survives a pause."""

from __future__ import annotations

import psycopg
import pytest

from tests.pg_server import PostgresServer


def test_server_answers_over_tcp_in_its_own_schema(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as connection:
        row = connection.execute("SELECT current_schema(), version()").fetchone()
    assert row is not None
    assert row[0].startswith("viesus_test_")
    assert row[1].startswith("PostgreSQL ")


def test_paused_server_refuses_then_resumes_with_its_data(pg_server: PostgresServer) -> None:
    dsn = pg_server.create_schema("viesus_test_pause")
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CREATE TABLE kept (n int)")
        connection.execute("INSERT INTO kept VALUES (7)")
    pg_server.pause()
    try:
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(dsn, connect_timeout=2)
    finally:
        pg_server.resume()
    with psycopg.connect(dsn, autocommit=True) as connection:
        assert connection.execute("SELECT n FROM kept").fetchone() == (7,)
