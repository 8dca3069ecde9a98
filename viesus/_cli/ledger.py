"""What a run leaves in its report: every source with its state, and the credits the service
charged for it, counted once across runs.

Results alone undercount (an interrupted run has jobs in flight that the service charges when
they finish) and reruns overcount (a resumed item's price again). The journal knows which job
each source has and whether it finished; a job is this run's when its id was not in the
journal before the run began, so the runs' figures add up to what the service charged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from viesus import EnhanceOptions, EnhanceResult, Journal
from viesus._cli.outcomes import cli_reason, downscaled
from viesus._journal.keys import item_key
from viesus._journal.states import ItemState
from viesus._journal.store import ItemKey, ItemRecord
from viesus._plans import PlannedItem

_PAID = frozenset({ItemState.FINISHED_REMOTE, ItemState.DOWNLOADED})
_IN_FLIGHT = frozenset({ItemState.CREATE_INTENT, ItemState.CREATED, ItemState.UNKNOWN})


def read_journal(path: Path | None) -> dict[ItemKey, ItemRecord]:
    """The journal's records by key; none when there is no journal file yet."""
    if path is None or not path.exists():
        return {}
    with Journal.open(path) as journal:
        return {record.key: record for record in journal.records()}


def recorded_outputs(path: Path | None) -> frozenset[Path]:
    """Every output the journal records (resolved): a folder walk leaves them out."""
    return frozenset(
        Path(r.output_path).resolve() for r in read_journal(path).values() if r.output_path
    )


@dataclass
class Credits:
    """Credits of one run: ``charged`` for jobs it created that finished, ``pending`` for jobs
    it created that are still running (charged when they finish; a failed job is free), and
    ``batch`` for every source of the batch, whichever run created its job."""

    charged: int = 0
    pending: int = 0
    batch: int = 0
    earlier: int = 0  # jobs of earlier runs this run waited for or downloaded (not charged again)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, int]:
        return {
            "charged_this_run": self.charged,
            "pending_this_run": self.pending,
            "charged_for_batch": self.batch,
        }


def settle(
    sources: Sequence[str],
    options: EnhanceOptions,
    results: Sequence[EnhanceResult],
    plan: Sequence[PlannedItem],
    before: dict[ItemKey, ItemRecord],
    after: dict[ItemKey, ItemRecord],
) -> Credits:
    """One report row per source (done or not) and the run's credits, from the journal."""
    by_source = {r.source: r for r in results}
    prices = {p.source: p.credits or 0 for p in plan}
    old_jobs = {r.job_id for r in before.values() if r.job_id}
    credits, counted = Credits(), set()
    for source in sources:
        key = item_key(source, options)
        record = after.get(key)
        result = by_source.get(source)
        price = _price(record, prices.get(source, 0))
        row = _row(source, result, record, price, record is not None and record.job_id in old_jobs)
        credits.rows.append(row)
        if key in counted or record is None or record.state not in _PAID | _IN_FLIGHT:
            continue
        counted.add(key)
        paid = record.state in _PAID
        credits.batch += price if paid else 0
        if record.job_id in old_jobs:
            credits.earlier += price if paid else 0
        elif paid:
            credits.charged += price
        else:
            credits.pending += price
    return credits


def _price(record: ItemRecord | None, planned: int) -> int:
    """The job's price: the journal's (written when it finished), else the plan's."""
    if record is not None and record.credits is not None and record.state is not ItemState.FAILED:
        return record.credits
    return planned


def _row(
    source: str,
    result: EnhanceResult | None,
    record: ItemRecord | None,
    price: int,
    earlier: bool,
) -> dict[str, Any]:
    state = None if record is None else record.state
    charged = price if state in _PAID else 0
    return {
        "source": source,
        "status": "not_done" if result is None else result.status,
        "state": "not started" if state is None else str(state),
        "output": _output(result, record),
        "job_id": (result.job_id if result else None) or (record.job_id if record else None),
        "credits": charged,
        "credits_pending": price if state in _IN_FLIGHT else 0,
        "paid_in": None
        if not (charged or state in _IN_FLIGHT)
        else ("an earlier run" if earlier else "this run"),
        "reason": None if result is None else cli_reason(result),
        **({} if result is None else downscaled(result)),
    }


def _output(result: EnhanceResult | None, record: ItemRecord | None) -> str | None:
    if result is not None and result.output_path is not None:
        return str(result.output_path)
    if record is not None and record.state is ItemState.DOWNLOADED and record.output_path:
        return record.output_path
    return None


def from_results(sources: Sequence[str], results: Sequence[EnhanceResult]) -> Credits:
    """Without a journal to read (a shared batch's is PostgreSQL, read by ``viesus batch
    status``): this worker's results, each finished one at its price."""
    credits = Credits()
    by_source = {r.source: r for r in results}
    for source in sources:
        result = by_source.get(source)
        if result is None:
            continue
        charged = result.credits if result.status == "finished" else 0
        credits.charged += charged
        credits.batch += charged
        credits.rows.append(_row(source, result, None, charged, False) | {"credits": charged})
    return credits
