"""Creating an enhancement job: validate, price, reserve credits, queue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from viesus_emulator import _codes as codes
from viesus_emulator._pdf import jobs as pdf_jobs
from viesus_emulator._pricing import cost_of
from viesus_emulator._store import UPLOAD_FINISHED, JobRecord, new_id, utcnow
from viesus_emulator._validation import (
    canonical_json,
    normalize_input,
    upscaling_violation,
    validate_input,
)
from viesus_emulator._world import EmulatorState


def create_job(
    state: EmulatorState, upload_id: str, raw_input: Mapping[str, Any] | None
) -> JobRecord:
    params = normalize_input(raw_input)
    validate_input(params)
    upload = state.store.uploads.get(upload_id)
    if upload is None:
        raise codes.graphql_error(codes.NOT_FOUND, "no upload with this id", id=upload_id)
    if upload.status != UPLOAD_FINISHED:
        raise codes.graphql_error(
            codes.UPLOAD_NOT_READY,
            f"the upload is {upload.status}; only UPLOAD_FINISHED uploads can be enhanced",
            id=upload_id,
        )
    now = utcnow()
    if upload.pdf is not None:
        cost = pdf_jobs.admit(upload, params)  # the analysed estimate; refuses unanalysed PDFs
        violation = None  # images beyond the upscaling limits are not upscaling-eligible
    else:
        cost = cost_of(params)
        assert upload.info is not None
        violation = upscaling_violation(upload.info, params)
    if violation is None and not state.ledger.reserve(cost, now):
        available = state.ledger.available(now)
        raise codes.graphql_error(
            codes.INSUFFICIENT_CREDITS,
            f"this enhancement costs {cost} credits; {available} are available "
            "(remaining this period minus those held by unfinished jobs)",
            cost=cost,
            available=available,
        )
    job = JobRecord(
        id=new_id(),
        upload_id=upload_id,
        params=params,
        canonical_input=canonical_json(params),
        cost=cost,
        created_at=now,
    )
    state.store.jobs[job.id] = job
    upload.job_ids.append(job.id)
    if violation is not None:
        # Known at once from the upload's size: the job ends ERROR right away, free.
        state.workers.fail_now(job, codes.UPSCALING_LIMIT_EXCEEDED, violation)
    else:
        state.workers.submit(job)
    return job
