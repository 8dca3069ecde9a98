"""Counters of what the emulator saw and did, served read-only at ``GET /stats``.

Tests use them to prove properties a client must have ("no duplicate job after a lost
response", "N requests for M jobs"); benchmarks use them to count requests and faults and to
compute the server's makespan from the per-job times.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from viesus_emulator._store import Store

STATS_VERSION = 1
#: Distinct client-chosen names kept per counter; later new names count as "(other)".
MAX_NAMES = 200
OTHER = "(other)"


def _bounded_add(counter: Counter[str], name: str, count: int = 1) -> None:
    if name not in counter and len(counter) >= MAX_NAMES:
        name = OTHER
    counter[name] += count


def _stamp(moment: datetime | None) -> float | None:
    return None if moment is None else round(moment.timestamp(), 3)


@dataclass
class Stats:
    requests_total: int = 0
    by_operation: Counter[str] = field(default_factory=Counter)
    by_root_field: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    #: Webhook events emitted, deliveries (event x webhook), attempts, outcomes.
    webhook_events: int = 0
    webhook_deliveries: int = 0
    webhook_attempts: int = 0
    webhook_succeeded: int = 0
    webhook_failed: int = 0
    #: Uploads (with their jobs) removed after the retention period.
    uploads_expired: int = 0
    jobs_expired: int = 0

    def count_request(self) -> None:
        """Every request to /graphql, also those refused before parsing (401, 405, ...)."""
        self.requests_total += 1

    def count_operation(self, operation: str | None, root_fields: Mapping[str, int]) -> None:
        """A parsed document: its operation name and every root field (aliases each count)."""
        _bounded_add(self.by_operation, operation or "(anonymous)")
        for name, count in root_fields.items():
            _bounded_add(self.by_root_field, name, count)

    def record_status(self, status: int | str) -> None:
        self.by_status[str(status)] += 1

    def record_fault(self, kind: str) -> None:
        self.faults[kind] += 1

    def snapshot(self, store: Store, ledger: dict[str, int]) -> dict[str, Any]:
        """The JSON document of ``GET /stats`` (keys documented in the emulator README)."""
        jobs_by_status: Counter[str] = Counter(job.status for job in store.jobs.values())
        uploads_by_status: Counter[str] = Counter(u.status for u in store.uploads.values())
        keys: Counter[tuple[str, str]] = Counter(
            (job.upload_id, job.canonical_input) for job in store.jobs.values()
        )
        created = [job.created_at for job in store.jobs.values()]
        finished = [job.finished_at for job in store.jobs.values() if job.finished_at]
        makespan = (max(finished) - min(created)).total_seconds() if finished else None
        return {
            "version": STATS_VERSION,
            "requests": {
                "total": self.requests_total,
                "by_operation": dict(self.by_operation),
                "by_root_field": dict(self.by_root_field),
                "by_status": dict(self.by_status),
            },
            "faults": dict(self.faults),
            "uploads": {
                "total": len(store.uploads),
                "by_status": dict(uploads_by_status),
                "expired": self.uploads_expired,
            },
            "jobs": {
                "total": len(store.jobs),
                "by_status": dict(jobs_by_status),
                "per_upload": {
                    upload.id: len(upload.job_ids)
                    for upload in store.uploads.values()
                    if upload.job_ids
                },
                "duplicates": sum(count - 1 for count in keys.values()),
                "expired": self.jobs_expired,
                "times": {
                    job.id: {
                        "created": _stamp(job.created_at),
                        "started": _stamp(job.started_at),
                        "finished": _stamp(job.finished_at),
                    }
                    for job in store.jobs.values()
                },
                "makespan_seconds": None if makespan is None else round(makespan, 3),
            },
            "credits": ledger,
            "webhooks": {
                "registered": len(store.webhooks),
                "events": self.webhook_events,
                "deliveries": self.webhook_deliveries,
                "attempts": self.webhook_attempts,
                "succeeded": self.webhook_succeeded,
                "failed": self.webhook_failed,
            },
        }
