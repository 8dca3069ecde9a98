"""The batch item state machine, and the never-pay-twice rule it enforces.

Never pay twice
===============
VIESUS charges for every ``createEnhancedImage`` that runs and offers no idempotency key, so a
second create for the same item is a second charge. The rule, enforced here and only here:

    A create request may be sent for an item only from ``uploaded`` (no create was ever sent
    for it on its current upload, or the server proved the last one made nothing) or from
    ``failed`` (the only job ever made for it ended in ERROR, which is free, or none was made).
    The intent to create is made durable in the journal BEFORE the request is sent. After
    that, until the server says otherwise, the item *may have been charged*: it stays
    ``create_intent`` or ``unknown`` and is never created again. It leaves that state only
    when an authoritative read of the server shows a job (adopt it: ``created``), or shows
    that the upload has no job after a backed-off re-read (``uploaded``: create allowed).
    An item that has (or had) a job never goes back to a create state unless that job ended
    ERROR.

Every transition below is one method of :class:`viesus._book.ItemBook` [the book updates the
in-memory item and queues the same change for the journal store]; an illegal move raises
:class:`IllegalTransition` (a bug, never a user error) before anything is sent.

=================  ==========================================================================
state              meaning (and what a rerun does)
=================  ==========================================================================
planned            checked, not yet uploaded (upload it)
uploaded           the upload exists, no create is outstanding (create a job on it)
create_intent      a create was (maybe) sent: reconcile by reading the upload's jobs
created            the job id is known: wait for it
finished_remote    the job FINISHED (paid); the output is not yet safely on disk: download
downloaded         the output is at ``output_path``: skip
failed             nothing charged (free): the job ended ERROR, or no job was made; ``reason``
unknown            maybe charged and the server could not say: reconcile again, never create
lost               the job id is known but the service no longer knows it (expired, another
                   endpoint): reported with its reason, never created again automatically
=================  ==========================================================================
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = [
    "MAY_CREATE_FROM",
    "TRANSITIONS",
    "IllegalTransition",
    "ItemState",
    "check_transition",
    "may_create",
]


class ItemState(StrEnum):
    """Where one batch item is; the same values in memory and in every journal store."""

    PLANNED = "planned"
    UPLOADED = "uploaded"
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


S = ItemState
_MAYBE_CHARGED: Final = frozenset(
    {S.CREATE_INTENT, S.CREATED, S.FINISHED_REMOTE, S.DOWNLOADED, S.UNKNOWN, S.LOST}
)

MAY_CREATE_FROM: Final = frozenset({S.UPLOADED})
"""The only state a create intent may start from (``failed`` goes through a fresh upload)."""

TRANSITIONS: Final[dict[ItemState, frozenset[ItemState]]] = {
    # A failed (free) item may be retried on a fresh upload: planned again.
    S.PLANNED: frozenset({S.UPLOADED, S.FAILED}),
    S.UPLOADED: frozenset({S.CREATE_INTENT, S.FAILED, S.PLANNED}),
    # From here on the item may have been charged; see the module docstring.
    S.CREATE_INTENT: frozenset({S.CREATED, S.UNKNOWN, S.FAILED, S.UPLOADED}),
    S.UNKNOWN: frozenset({S.CREATED, S.UPLOADED, S.UNKNOWN}),
    S.CREATED: frozenset({S.FINISHED_REMOTE, S.FAILED, S.LOST, S.CREATED}),
    # Saving may fail (disk full): the item stays paid-for and is downloaded again later.
    S.FINISHED_REMOTE: frozenset({S.FINISHED_REMOTE, S.DOWNLOADED, S.LOST}),
    # An output that vanished is fetched again from its (paid) job.
    S.DOWNLOADED: frozenset({S.FINISHED_REMOTE}),
    S.FAILED: frozenset({S.PLANNED}),
    S.LOST: frozenset(),
}
"""Every legal move. ``create_intent -> failed`` only on a definite refusal (a GraphQL error
for that create: nothing ran); ``create_intent/unknown -> uploaded`` only when a backed-off
re-read of the upload shows no job; ``created -> failed`` only when the job ended ERROR."""


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
    """True only where the never-pay-twice rule above allows a create request."""
    return state in MAY_CREATE_FROM
