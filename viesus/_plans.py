"""What a batch would do, decided by the batch's own checks: ``AsyncViesus.plan_many``.

A dry run that guessed separately from the real run would disagree with it (an outside
review saw "39 of 42 would be sent; 156 credits" before a run that enhanced 24 and charged
96). So the plan is the pipeline's own first step (headers, limits, output names, the
journal's record of each source) stopped before anything is uploaded, and its credits are
only what is still to pay: what the journal shows done or paid for costs nothing again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from viesus._errors import ViesusError

Action = Literal["create", "reconcile", "resume", "done", "refused", "repeat"]
ACTIONS: dict[str, str] = {
    "create": "a job will be created (paid)",
    "reconcile": "a create may have run: the service is asked first, never created twice",
    "resume": "its job exists (paid): waited for and downloaded, nothing paid again",
    "done": "the output is on disk: nothing to do",
    "refused": "refused before anything is spent",
    "repeat": "the same source again: one job serves both",
}


@dataclass(frozen=True)
class PlannedItem:
    """One source's decision. ``credits``: what it will still cost (0 unless ``create`` or
    ``reconcile``; ``None`` for a PDF until the service's analysis prices it)."""

    source: str
    action: Action
    output_path: Path | None
    credits: int | None
    reason: str | None = None
    error: ViesusError | None = field(default=None, compare=False, repr=False)  # the refusal
    kind: Literal["image", "pdf", "url"] = "image"
    width: int | None = None
    height: int | None = None
    size_bytes: int | None = None
    job_id: str | None = None
    downscale_to: tuple[int, int] | None = None  # sent downscaled to fit the upscaling limit

    @property
    def pays(self) -> bool:
        return self.action in ("create", "reconcile")


@dataclass(frozen=True)
class BatchPlan:
    """Every source's decision, in the order given."""

    items: list[PlannedItem]

    @property
    def credits(self) -> int:
        """The most the batch can still charge (unpriced PDFs excluded)."""
        return sum(i.credits or 0 for i in self.items if i.pays)

    @property
    def to_pay(self) -> list[PlannedItem]:
        return [i for i in self.items if i.pays]

    def count(self, action: str) -> int:
        return sum(1 for i in self.items if i.action == action)
