"""A real PostgreSQL for the shared-journal tests: one server per session, one schema per test.

The server comes from the machine's binaries (see ``tests/pg_server.py``); tests skip, saying
why, only when those binaries are absent. Its start time is printed in the summary
(``-rA`` / ``-s``) and written to the server fixture's ``started_in``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from importlib.util import find_spec

import pytest

from tests.facade.conftest import emulator, photos, viesus  # noqa: F401 - shared fixtures
from tests.pg_server import PostgresServer, find_pg_bin, missing_reason

_schemas = itertools.count(1)

# Without the driver (an install without the `postgres` extra) these tests cannot even be
# imported; `make setup` installs it with the dev extra.
collect_ignore_glob = [] if find_spec("psycopg") else ["test_*.py"]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    reason = missing_reason()
    bin_dir = find_pg_bin()
    if reason is not None or bin_dir is None:
        pytest.skip(reason or "PostgreSQL binaries not found")
    server = PostgresServer(bin_dir)
    try:
        server.start()
        print(f"\nPostgreSQL {bin_dir.parent.name} started in {server.started_in:.2f} s")
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_dsn(pg_server: PostgresServer) -> str:
    """A fresh, empty schema on the session's server (tests never see each other's rows)."""
    return pg_server.create_schema(f"viesus_test_{next(_schemas)}")
