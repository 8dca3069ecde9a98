"""The journal store interface and its records: where batch item states live, behind a Protocol.

The pipeline reaches a journal only through :class:`JournalStore` (the SQLite journal, the
shared PostgreSQL one); the contract every store keeps is in ARCHITECTURE-notes-r2.md.
:class:`ItemState` is here, with the records it is stored in; the moves between states are
:mod:`viesus._journal.states`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final, Protocol, runtime_checkable

from viesus._errors import JournalError

__all__ = [
    "ItemKey",
    "ItemRecord",
    "ItemState",
    "JournalStore",
    "StaleRecord",
    "StateChange",
    "StoreIdentity",
]


class ItemState(StrEnum):
    """Where one batch item is; the same values in memory and in every journal store."""

    PLANNED = "planned"
    UPLOADED = "uploaded"
    ANALYZED = "analyzed"
    CREATE_INTENT = "create_intent"
    CREATED = "created"
    FINISHED_REMOTE = "finished_remote"
    DOWNLOADED = "downloaded"
    FAILED = "failed"
    UNKNOWN = "unknown"
    LOST = "lost"

    @property
    def maybe_charged(self) -> bool:
        """A create may have run for this item: a new create would risk a second charge."""
        return self in _MAYBE_CHARGED

    @property
    def terminal(self) -> bool:
        """Nothing more happens to the item in this run."""
        return self in (ItemState.DOWNLOADED, ItemState.FAILED, ItemState.LOST)


_MAYBE_CHARGED: Final = frozenset(
    {
        ItemState.CREATE_INTENT,
        ItemState.CREATED,
        ItemState.FINISHED_REMOTE,
        ItemState.DOWNLOADED,
        ItemState.UNKNOWN,
        ItemState.LOST,
    }
)


@dataclass(frozen=True, order=True)
class ItemKey:
    """One batch item: where its input comes from, and what is asked of it.

    ``source_id`` is ``"file:" + absolute path`` or ``"url:" + sha256(url)`` (the URL itself
    may be signed, so only its hash is an identity); ``params_hash`` is the sha256 of the
    canonical options JSON.
    """

    source_id: str
    params_hash: str

    def __str__(self) -> str:
        return f"{self.source_id}#{self.params_hash[:12]}"


@dataclass(frozen=True)
class StoreIdentity:
    """Whose jobs a journal holds: the endpoint (redacted URL) and a fingerprint of the key.

    ``key_fingerprint`` is a truncated salted sha256 of the API key (see
    :func:`viesus._journal.keys.key_fingerprint`): enough to tell two keys apart, useless to
    recover one.
    """

    endpoint: str
    key_fingerprint: str


@dataclass(frozen=True)
class ItemRecord:
    """One item as a store holds it. Stores fill ``updated_at``; callers may leave it ``None``.

    ``attempts`` counts create intents; ``credits`` is what the finished job was charged
    (before that, for a PDF from ``analyzed`` on, the analysis' estimate for these options);
    ``output_path``/``output_sha256`` name the output chosen before it is placed, so a
    complete output of a known job can be recognised and adopted after a crash; ``reason``
    says why an item is ``failed``, ``unknown`` or ``lost`` (no secrets).
    """

    key: ItemKey
    source: str
    state: ItemState
    content_hash: str | None = None
    upload_id: str | None = None
    job_id: str | None = None
    attempts: int = 0
    output_path: str | None = None
    output_sha256: str | None = None
    credits: int | None = None
    reason: str | None = None
    updated_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StateChange:
    """Write ``record`` if the stored row is still in state ``expected`` (``None``: absent)."""

    expected: ItemState | None
    record: ItemRecord


class StaleRecord(JournalError):
    """A change was refused because another writer moved the item first."""


@runtime_checkable
class JournalStore(Protocol):
    """Where item states are kept between runs.

    Every method may block and is called from a worker thread, one call at a time;
    :meth:`bind` comes first; :meth:`apply` is one durable compare-and-set transaction; nothing
    secret is stored; storage errors are :class:`viesus.JournalError`. A store proves it keeps
    the contract by subclassing ``tests.facade.store_contract.StoreContract``.
    """

    def bind(self, identity: StoreIdentity) -> None:
        """Record ``identity`` on first use; ``JournalError`` if it differs from the stored one."""
        ...

    def load(self, keys: Sequence[ItemKey]) -> dict[ItemKey, ItemRecord]:
        """The stored records of ``keys`` (keys never recorded are absent)."""
        ...

    def apply(self, changes: Sequence[StateChange]) -> set[ItemKey]:
        """Commit ``changes`` in one durable transaction; return the keys refused as stale."""
        ...

    def records(self) -> list[ItemRecord]:
        """Every record, oldest first (reports, tests, tooling)."""
        ...

    def close(self) -> None:
        """Release the store (connections, locks); every applied change is already durable."""
        ...


def check_identity(stored: StoreIdentity, identity: StoreIdentity, journal: str, fix: str) -> None:
    """Refuse a journal (``journal``: how to name it) bound to another endpoint or API key:
    job ids of one mean nothing (or something else) on the other. ``fix``: the way out."""
    if stored.endpoint != identity.endpoint:
        raise JournalError(
            f"{journal} belongs to the endpoint {stored.endpoint}, not {identity.endpoint}: "
            f"its job ids mean nothing there; use that endpoint, or {fix}"
        )
    if stored.key_fingerprint != identity.key_fingerprint:
        raise JournalError(
            f"{journal} was written with another API key (fingerprint "
            f"{stored.key_fingerprint}, this one {identity.key_fingerprint}): its jobs belong "
            f"to another account; use that key, or {fix}"
        )
