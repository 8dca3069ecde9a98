"""The journal store interface: where batch item states live, behind a small Protocol.

The pipeline reaches a journal only through :class:`JournalStore`. The SQLite journal
(:class:`viesus._journal.Journal`) implements it for one machine; a shared store for many
workers (PostgreSQL, say) can implement the same Protocol and be passed as ``journal=``
without touching the pipeline.

The contract every store keeps
------------------------------
* **Synchronous and allowed to block** (disk, network). The pipeline calls every method in a
  worker thread (``asyncio.to_thread``), never on the event loop, and never two calls at once
  on one store; successive calls may come from different threads.
* **bind() first.** ``bind(identity)`` records which endpoint and which API key (a
  fingerprint, never the key) the journal belongs to on first use, and raises
  :class:`viesus.JournalError` naming both sides when a later run uses another endpoint or
  key: a job id from one account means nothing (or something else) on another.
* **apply() is one transaction per batch step**: all accepted changes commit together, and
  are durable when it returns (the intent to create is applied *before* the create request is
  sent; a crash right after ``apply`` returns must not lose it).
* **Compare-and-set.** Each :class:`StateChange` carries the state its writer last saw
  (``expected``; ``None``: the item must not exist yet). A change whose row is no longer in
  that state is not written and its key is returned; the pipeline then leaves that item alone
  (never sends a create for it). With one worker this never happens; with many sharing a
  store it is what stops two of them from both moving an item to ``create_intent``.
* **Nothing secret.** Callers store sources already redacted (a signed URL keeps no query),
  hashes, ids and paths; never an API key, a webhook secret or a signed download URL. Errors
  of the storage itself are raised as :class:`viesus.JournalError` with a clear message (a
  file that is not a journal, a directory, a newer schema), never as raw driver errors.

A new store proves it keeps this contract by subclassing ``tests.facade.store_contract.
StoreContract`` in its tests (the SQLite journal does, in ``tests/facade/test_journal.py``).

Item identity: :class:`ItemKey` is *where the input comes from* (an absolute path, or the
sha256 of a URL) plus the sha256 of the canonical options. Two names with identical bytes are
two items with two outputs; ``content_hash`` only tells that a file changed since it was
recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from viesus._errors import JournalError
from viesus._states import ItemState

__all__ = [
    "ItemKey",
    "ItemRecord",
    "JournalStore",
    "StaleRecord",
    "StateChange",
    "StoreIdentity",
]


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
    :func:`viesus._journal.key_fingerprint`): enough to tell two keys apart, useless to
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
    """Where item states are kept between runs. See the module docstring for the contract."""

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
