"""The batch item state machine: every legal move, and :class:`ItemBook`, its one door.

Each transition is one :class:`ItemBook` method, which moves the in-memory record and queues
the change for the journal store; :meth:`ItemBook.intend_create` is the only way to a create
request. The never-pay-twice rule it enforces is in ARCHITECTURE-notes-r2.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

from viesus._journal.store import ItemKey, ItemRecord, ItemState, JournalStore, StateChange

__all__ = [
    "MAY_CREATE_FROM",
    "TRANSITIONS",
    "IllegalTransition",
    "ItemBook",
    "ItemState",
    "check_transition",
    "may_create",
]


S = ItemState

MAY_CREATE_FROM: Final = frozenset({S.UPLOADED, S.ANALYZED})
"""The only states a create intent may start from (``failed`` goes through a fresh upload)."""

TRANSITIONS: Final[dict[ItemState, frozenset[ItemState]]] = {
    # A failed (free) item may be retried on a fresh upload: planned again.
    S.PLANNED: frozenset({S.PLANNED, S.UPLOADED, S.FAILED}),
    # A PDF's analysis ends analysed, or failed (twice: free, nothing was created).
    S.UPLOADED: frozenset({S.CREATE_INTENT, S.ANALYZED, S.FAILED, S.PLANNED}),
    S.ANALYZED: frozenset({S.CREATE_INTENT, S.FAILED, S.PLANNED}),
    # From here on the item may have been charged (never pay twice).
    S.CREATE_INTENT: frozenset({S.CREATED, S.UNKNOWN, S.FAILED, S.UPLOADED, S.ANALYZED}),
    S.UNKNOWN: frozenset({S.CREATED, S.UPLOADED, S.ANALYZED, S.UNKNOWN}),
    S.CREATED: frozenset({S.FINISHED_REMOTE, S.FAILED, S.LOST, S.CREATED}),
    # Saving may fail (disk full): the item stays paid-for and is downloaded again later.
    S.FINISHED_REMOTE: frozenset({S.FINISHED_REMOTE, S.DOWNLOADED, S.LOST}),
    # An output that vanished is fetched again from its (paid) job.
    S.DOWNLOADED: frozenset({S.FINISHED_REMOTE, S.PLANNED}),
    S.FAILED: frozenset({S.PLANNED}),
    S.LOST: frozenset(),
}
"""Every legal move. ``create_intent -> failed`` only on a definite refusal (a GraphQL error
for that create: nothing ran); ``create_intent/unknown -> uploaded`` (``analyzed`` for a PDF)
only when a backed-off re-read of the upload shows no job; ``created -> failed`` only when the
job ended ERROR."""


class IllegalTransition(RuntimeError):
    """A move the state machine forbids; raised before any request, never swallowed."""


def check_transition(old: ItemState | None, new: ItemState, what: str) -> None:
    """Raise :class:`IllegalTransition` unless ``old -> new`` is in :data:`TRANSITIONS`.

    ``old`` is ``None`` for an item never recorded: it may only start ``planned``.
    """
    allowed = frozenset({S.PLANNED}) if old is None else TRANSITIONS[old]
    if new not in allowed:
        raise IllegalTransition(f"{what}: {old} -> {new} is not a legal item transition")


def may_create(state: ItemState) -> bool:
    """True only where the never-pay-twice rule allows a create request."""
    return state in MAY_CREATE_FROM


class ItemBook:
    """Item records in memory and in the journal store, moved together.

    One method per transition of :data:`TRANSITIONS`; each checks the move, updates the
    in-memory record and queues it for the store. :meth:`flush` writes everything queued in
    one store transaction in a worker thread; flushes that overlap coalesce (the second
    waits and writes what queued meanwhile). Without a store the same machine runs in memory.
    """

    def __init__(self, store: JournalStore | None) -> None:
        self.store = store
        self._records: dict[ItemKey, ItemRecord] = {}
        self._durable: dict[ItemKey, ItemState | None] = {}
        self._pending: dict[ItemKey, ItemRecord] = {}
        self._flush_lock = asyncio.Lock()
        self.stale: set[ItemKey] = set()
        self.read_only = False  # a plan's book: moves stay in memory, nothing is written

    def get(self, key: ItemKey) -> ItemRecord | None:
        return self._records.get(key)

    def state(self, key: ItemKey) -> ItemState | None:
        record = self._records.get(key)
        return None if record is None else record.state

    async def load(self, keys: Sequence[ItemKey]) -> dict[ItemKey, ItemRecord]:
        """Read the stored records of ``keys`` (in a worker thread) into the book."""
        found = await asyncio.to_thread(self.store.load, keys) if self.store else {}
        for key, record in found.items():
            self._records[key] = record
            self._durable[key] = record.state
        return found

    async def flush(self) -> set[ItemKey]:
        """Write every queued change in one transaction; returns keys refused as stale."""
        async with self._flush_lock:
            if not self._pending:
                return set()
            batch, self._pending = self._pending, {}
            if self.store is None or self.read_only:
                return set()
            changes = [StateChange(self._durable.get(k), r) for k, r in batch.items()]
            try:
                stale = await asyncio.to_thread(self.store.apply, changes)
            except BaseException:
                # Nothing was written: queue it again under anything newer.
                self._pending = {**batch, **self._pending}
                raise
            for key, record in batch.items():
                if key not in stale:
                    self._durable[key] = record.state
            self.stale |= stale
            return stale

    # --- transitions ------------------------------------------------------------------------

    def plan(self, key: ItemKey, source: str, content_hash: str | None) -> ItemRecord:
        """A new item, a failed (free) one retried, or one whose input file changed."""
        old = self._records.get(key)
        if old is None:
            record = ItemRecord(key=key, source=source, state=S.PLANNED, content_hash=content_hash)
            check_transition(None, S.PLANNED, str(key))
            self._records[key] = record
            self._pending[key] = record
            return record
        return self._move(
            key,
            S.PLANNED,
            source=source,
            content_hash=content_hash,
            upload_id=None,
            job_id=None,
            output_path=None,
            output_sha256=None,
            credits=None,
            reason=None,
        )

    def adopt(self, key: ItemKey, source: str, known: ItemRecord, output: str | None) -> ItemRecord:
        """A new item whose content and options the journal knows under another source (a
        moved or renamed folder): it takes over that upload and job, so nothing is created
        again. ``output``: where this item finds the known result complete already (the
        moved output folder); without one, a downloaded result is the other source's, and
        this item downloads its own copy of the paid result (``finished_remote``)."""
        if key in self._records:
            raise IllegalTransition(f"{key} is known already; it adopts nothing")
        state = known.state
        if state is S.DOWNLOADED and output is None:
            state = S.FINISHED_REMOTE
        kept = output is not None or state is not S.FINISHED_REMOTE
        record = replace(
            known,
            key=key,
            source=source,
            state=state,
            output_path=(output or known.output_path) if kept else None,
            output_sha256=known.output_sha256 if kept else None,
            updated_at=None,
        )
        self._records[key] = record
        self._pending[key] = record
        return record

    def uploaded(self, key: ItemKey, upload_id: str) -> ItemRecord:
        return self._move(key, S.UPLOADED, upload_id=upload_id, reason=None)

    def analyzed(self, key: ItemKey, estimate: int) -> ItemRecord:
        """A PDF's analysis succeeded; ``estimate`` is its price for the batch's options.

        Kept in ``credits`` until the job is charged (the charge is the estimate [assumption]),
        so a resume checks the budget without asking again and never uploads it again.
        """
        return self._move(key, S.ANALYZED, credits=estimate, reason=None)

    def analysis_failed(self, key: ItemKey, reason: str) -> ItemRecord:
        """A PDF could not be analysed (or priced): nothing was created, nothing charged."""
        return self._move(key, S.FAILED, reason=reason)

    def intend_create(self, key: ItemKey) -> ItemRecord:
        """The one door to a create request (the never-pay-twice rule).

        The caller must :meth:`flush` before sending the request and must not send it for a
        key the flush returned as stale.
        """
        old = self._require(key)
        if not may_create(old.state) or key in self.stale:
            raise IllegalTransition(f"{key}: a create from {old.state} could charge twice; refused")
        return self._move(key, S.CREATE_INTENT, attempts=old.attempts + 1, job_id=None, reason=None)

    def created(self, key: ItemKey, job_id: str) -> ItemRecord:
        """The create answered, or reconciliation found the job on the item's upload."""
        return self._move(key, S.CREATED, job_id=job_id, reason=None)

    def create_refused(self, key: ItemKey, reason: str) -> ItemRecord:
        """The service refused the create with an error for it: nothing ran, nothing charged."""
        return self._move(key, S.FAILED, reason=reason)

    def unknown(self, key: ItemKey, reason: str) -> ItemRecord:
        """A create may have run and the service could not tell: never create again blindly."""
        return self._move(key, S.UNKNOWN, reason=reason)

    def no_job(self, key: ItemKey) -> ItemRecord:
        """Backed-off re-reads of the upload show no job: the create never ran.

        Back to ``analyzed`` when the record holds a PDF's estimate (``credits`` is set before
        a create only by :meth:`analyzed`), else ``uploaded``.
        """
        back = S.ANALYZED if self._require(key).credits is not None else S.UPLOADED
        return self._move(key, back, reason=None)

    def upload_failed(self, key: ItemKey, reason: str) -> ItemRecord:
        return self._move(key, S.FAILED, reason=reason)

    def finished_remote(self, key: ItemKey) -> ItemRecord:
        """The job FINISHED (paid); its output is not yet safely on disk."""
        return self._move(key, S.FINISHED_REMOTE)

    def output_missing(self, key: ItemKey) -> ItemRecord:
        """A downloaded output vanished: fetch it again from the (paid) job."""
        return self._move(key, S.FINISHED_REMOTE, output_path=None, output_sha256=None)

    def output_chosen(self, key: ItemKey, path: str, sha256: str) -> ItemRecord:
        """Written before the output is placed: a resume recognises (and adopts) it."""
        return self._move(key, S.FINISHED_REMOTE, output_path=path, output_sha256=sha256)

    def save_failed(self, key: ItemKey, reason: str) -> ItemRecord:
        """Saving failed (disk full, permission): the job stays paid, a rerun downloads it."""
        return self._move(key, S.FINISHED_REMOTE, reason=reason)

    def downloaded(self, key: ItemKey, path: str, credits: int) -> ItemRecord:
        return self._move(key, S.DOWNLOADED, output_path=path, credits=credits, reason=None)

    def job_failed(self, key: ItemKey, reason: str) -> ItemRecord:
        """The job ended ERROR (free): the item may be retried on a fresh upload later."""
        return self._move(key, S.FAILED, reason=reason)

    def job_lost(self, key: ItemKey, reason: str) -> ItemRecord:
        """The service no longer knows the job (after a backed-off re-read)."""
        return self._move(key, S.LOST, reason=reason)

    # --- internals --------------------------------------------------------------------------

    def _require(self, key: ItemKey) -> ItemRecord:
        record = self._records.get(key)
        if record is None:
            raise IllegalTransition(f"{key} was never planned")
        return record

    def _move(self, key: ItemKey, new: ItemState, **fields: Any) -> ItemRecord:
        old = self._require(key)
        check_transition(old.state, new, str(key))
        record = replace(old, state=new, **fields)
        self._records[key] = record
        self._pending[key] = record
        return record
