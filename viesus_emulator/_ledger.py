"""Credits: the documented pricing and a per-period ledger with reservations.

Pricing [docs]: only the most expensive active feature of an input is charged, costs never add
up. Each field's feature and cost come from the emulator's own table (``_pricing``), not the
client's generated one; an input with no field set is the default enhancement, 1 credit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def period_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The billing period containing ``now``: the calendar month in UTC [assumption]."""
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start.month == 12:
        end = start.replace(year=start.year + 1, month=1)
    else:
        end = start.replace(month=start.month + 1)
    return start, end


@dataclass
class CreditLedger:
    allowance: int
    used: int = 0
    reserved: int = 0
    #: Every charge ever made (also across periods), for stats.
    charged_total: int = 0
    period_start: datetime | None = None
    period_end: datetime | None = None

    def _roll(self, now: datetime) -> None:
        """Start a new period when the old one is over; unused credits do not carry over."""
        if self.period_end is None or now >= self.period_end:
            self.period_start, self.period_end = period_bounds(now)
            self.used = 0

    @property
    def remaining(self) -> int:
        return max(self.allowance - self.used, 0)

    def snapshot(self, now: datetime) -> dict[str, Any]:
        self._roll(now)
        return {
            "periodStart": self.period_start,
            "periodEnd": self.period_end,
            "usedCreditsThisPeriod": self.used,
            "remainingCreditsThisPeriod": self.remaining,
        }

    def available(self, now: datetime) -> int:
        """Credits a new job may still reserve: remaining this period minus those held."""
        self._roll(now)
        return max(self.remaining - self.reserved, 0)

    def reserve(self, cost: int, now: datetime) -> bool:
        """Hold ``cost`` for a new job; False (and nothing held) when it does not fit."""
        if cost > self.available(now):
            return False
        self.reserved += cost
        return True

    def charge(self, cost: int, now: datetime) -> None:
        """A reserved job finished: the credits are used."""
        self.reserved = max(self.reserved - cost, 0)
        self._roll(now)
        self.used += cost
        self.charged_total += cost

    def release(self, cost: int) -> None:
        """A reserved job failed: failed jobs are free."""
        self.reserved = max(self.reserved - cost, 0)

    def set_allowance(self, allowance: int) -> None:
        """Change the allowance of a running emulator (tests of INSUFFICIENT_CREDITS)."""
        self.allowance = allowance
