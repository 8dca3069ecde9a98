"""A real, throwaway PostgreSQL server for tests, from the machine's server binaries.

Why a real one: the shared journal relies on PostgreSQL's row locks (``FOR UPDATE SKIP
LOCKED``), its transaction isolation and what happens to a session's locks when its process
dies; an imitation would test the imitation. Debian's ``postgresql`` package puts ``initdb`` and
``pg_ctl`` under ``/usr/lib/postgresql/<version>/bin`` (not on ``PATH``); a server built
elsewhere is found through ``PATH`` or ``VIESUS_PG_BIN``.

PostgreSQL refuses to run as root. Tests and CI run as root here, so the server runs as the
``postgres`` system user (``runuser``), in a temporary data directory that user owns; run as
any other user, the server simply runs as that user. It listens on 127.0.0.1 on a free port and
on a private unix socket directory, with ``trust`` authentication (nothing else can reach it),
and ``fsync`` off: a test server needs no durability against power loss, and the server is
never killed by the tests, only stopped and started.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PostgresServer", "find_pg_bin", "missing_reason"]

_SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 32MB
log_min_messages = warning
"""


def find_pg_bin() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, newest version first."""
    explicit = os.environ.get("VIESUS_PG_BIN")
    candidates = [Path(explicit)] if explicit else []
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(debian)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for directory in candidates:
        if all((directory / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres", "psql")):
            return directory
    return None


def missing_reason() -> str | None:
    """Why a PostgreSQL server cannot be started here, or ``None`` if it can."""
    if find_pg_bin() is None:
        return (
            "PostgreSQL server binaries not found (initdb, pg_ctl): install Debian's "
            "`postgresql` package or set VIESUS_PG_BIN to their directory"
        )
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` user to run PostgreSQL as"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """One server: ``start()``, ``dsn``, ``stop()``; ``pause()``/``resume()`` keep its data."""

    bin_dir: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="viesus-pg-")))
    port: int = field(default_factory=_free_port)
    started_in: float = 0.0

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def dsn(self) -> str:
        """A libpq URL over TCP (what a worker on another machine would use)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """initdb + start; ``started_in`` is the seconds both took (logged by the fixture)."""
        began = time.monotonic()
        self.socket_dir.mkdir(parents=True)
        self._own(self.root)
        self._own(self.socket_dir)
        self._run(
            "initdb",
            "--pgdata",
            str(self.data_dir),
            "--auth",
            "trust",
            "--username",
            "postgres",
            "--encoding",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(_SETTINGS.format(port=self.port, socket_dir=self.socket_dir))
        self.resume()
        self.started_in = time.monotonic() - began

    def resume(self) -> None:
        """Start the server on its existing data (also the second half of "down a moment")."""
        self._run(
            "pg_ctl", "start", "--pgdata", str(self.data_dir), "--wait", "--timeout", "60",
            "--log", str(self.log_file),
        )  # fmt: skip

    def pause(self) -> None:
        """Stop the server, dropping every connection at once; ``resume()`` brings it back."""
        self._run("pg_ctl", "stop", "--pgdata", str(self.data_dir), "--mode", "fast", "--wait")

    def stop(self) -> None:
        """Stop (if running) and remove everything it wrote."""
        with contextlib.suppress(RuntimeError):
            if (self.data_dir / "postmaster.pid").exists():
                self._run(
                    "pg_ctl", "stop", "--pgdata", str(self.data_dir), "--mode", "immediate",
                    "--wait",
                )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)

    def create_schema(self, name: str) -> str:
        """A fresh, empty schema, and a DSN whose ``search_path`` is that schema: tests stay
        independent at a fraction of the cost of a database each (CREATE DATABASE copies one)."""
        import psycopg  # the driver under test

        with psycopg.connect(self.dsn, autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{name}"'.encode())
        return f"{self.dsn}?options=-csearch_path%3D{name}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # --- running the binaries as the right user ----------------------------------------------

    def _argv(self, tool: str, *args: str) -> list[str]:
        argv = [str(self.bin_dir / tool), *args]
        if os.geteuid() != 0:
            return argv
        if shutil.which("runuser"):
            return ["runuser", "-u", "postgres", "--", *argv]
        return ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(argv)]

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run(  # checked below, with the server's log in the error
            self._argv(tool, *args),
            capture_output=True,
            text=True,
            cwd=self.root,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{tool} failed ({result.returncode}): {result.stderr.strip()}\n"
                f"server log:\n{self.log_tail()}"
            )

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")
            path.chmod(0o700)


@contextlib.contextmanager
def running_server() -> Iterator[PostgresServer]:
    """A started server, stopped and removed on exit (for scripts; tests use the fixture)."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise RuntimeError(missing_reason())
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
