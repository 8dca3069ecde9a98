"""The batch's credit budget across workers: a create intent reserves the item's cost against
``max_credits`` under the batch row's lock; a failed (free) item gives its reservation back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from viesus._journal.store import ItemState

if TYPE_CHECKING:
    from psycopg.rows import DictRow

    from viesus._journal.postgres.session import Connection

__all__ = ["Budget"]


@dataclass
class Budget:
    """The batch's reservations within one :meth:`apply` (nothing read: nothing reserved)."""

    committed: int = 0
    ceiling: int | None = None
    cost: int = 0
    recorded: int | None = None  # ``credits_committed`` as read from the locked batch row

    @classmethod
    def of(cls, batch: DictRow | None) -> Budget:
        """The budget of the (locked) batch row; an empty one when it was not read."""
        if batch is None:
            return cls()
        committed = int(batch["credits_committed"])
        return cls(committed, batch["max_credits"], int(batch["cost"]), committed)

    def reserve(self, state: ItemState, held: int) -> int | None:
        """What an item holding ``held`` credits holds after its move to ``state``; ``None``
        when a create intent would exceed ``max_credits`` (the change is refused)."""
        if state is ItemState.CREATE_INTENT:
            extra = max(0, self.cost - held)
            if self.ceiling is not None and self.committed + extra > self.ceiling:
                return None
            self.committed += extra
            return held + extra
        if state is ItemState.FAILED:
            self.committed -= held  # failed is free: the service charged nothing
            return 0
        return held

    def save(self, connection: Connection, batch: str) -> None:
        """Write the batch's counter back when a reservation moved it."""
        if self.recorded is not None and self.committed != self.recorded:
            connection.execute(
                "UPDATE viesus_batches SET credits_committed = %s WHERE name = %s",
                (self.committed, batch),
            )
