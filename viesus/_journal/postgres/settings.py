"""What a shared-journal worker is configured with: the DSN, its lease times, the batch's
settings, its worker id, and the local clock its leases are counted on."""

from __future__ import annotations

import os
import random
import socket
import time
from dataclasses import dataclass
from typing import Final

__all__ = [
    "INSTALL_HINT",
    "BatchSettings",
    "LeaseTimes",
    "default_worker_id",
    "is_postgres_url",
    "lease_clock",
    "redact_dsn",
]

INSTALL_HINT: Final = (
    "a postgresql:// journal needs the PostgreSQL driver: pip install 'viesus-toolkit[postgres]'"
)
_BOOTTIME: Final = getattr(time, "CLOCK_BOOTTIME", None)


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
