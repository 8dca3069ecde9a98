"""Retention: uploads and their jobs are deleted some time after their last activity."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from viesus_emulator._store import QUEUED, UploadRecord, utcnow

if TYPE_CHECKING:
    from viesus_emulator._world import EmulatorState

log = logging.getLogger("viesus_emulator.retention")


def last_activity(state: EmulatorState, upload: UploadRecord) -> datetime:
    moments = [upload.created_at, upload.finished_at]
    for job in state.store.jobs_of(upload.id):
        moments += [job.created_at, job.finished_at]
    return max(moment for moment in moments if moment is not None)


def _busy(state: EmulatorState, upload: UploadRecord) -> bool:
    if upload.completion is not None and not upload.completion.done():
        return True
    if upload.pdf is not None and upload.pdf.task is not None and not upload.pdf.task.done():
        return True  # a PDF analysis still running
    return any(job.status == QUEUED for job in state.store.jobs_of(upload.id))


def expired(state: EmulatorState, now: datetime) -> list[UploadRecord]:
    """Uploads (with their jobs) whose retention has passed at ``now``."""
    cutoff = now - timedelta(seconds=state.config.retention)
    return [
        upload
        for upload in list(state.store.uploads.values())
        if last_activity(state, upload) < cutoff and not _busy(state, upload)
    ]


def _delete_files(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


async def sweep(state: EmulatorState, now: datetime | None = None) -> int:
    """Drop every expired upload with its jobs and files; returns how many uploads went."""
    uploads = expired(state, now or utcnow())
    paths: list[Path] = []
    for upload in uploads:
        # Records first (on the loop, atomically for readers), files after (in a thread).
        state.store.uploads.pop(upload.id, None)
        paths += state.uploads_dir.glob(f"{upload.id}*")  # the file and any .part left over
        for job_id in upload.job_ids:
            job = state.store.jobs.pop(job_id, None)
            if job is not None:
                state.stats.jobs_expired += 1
                paths += state.results_dir.glob(f"{job.id}*")
        state.stats.uploads_expired += 1
    if paths:
        await asyncio.to_thread(_delete_files, paths)
    if uploads:
        log.info("retention: %d uploads and their jobs expired", len(uploads))
    return len(uploads)


async def sweep_forever(state: EmulatorState) -> None:
    """The background task: a sweep every ``sweep_interval`` seconds until cancelled."""
    while True:
        await asyncio.sleep(state.config.sweep_interval)
        try:
            await sweep(state)
        except Exception:  # a failed sweep must not end the sweeping
            log.exception("retention sweep failed")
