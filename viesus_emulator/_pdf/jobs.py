"""``createEnhancedImage`` on a PDF upload: admission (price, refusals) and the job's work."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from viesus_emulator import _codes as codes
from viesus_emulator._files import enhanced_filename
from viesus_emulator._pdf.pricing import check_pdf_params, job_cost
from viesus_emulator._pdf.records import ANALYZED, PDF_MIMETYPE, ScanResult
from viesus_emulator._pdf.rewrite import Rewritten, modelled_seconds, rewrite
from viesus_emulator._store import JobRecord, UploadRecord


def admit(upload: UploadRecord, params: Mapping[str, Any]) -> int:
    """The credits a job with ``params`` on this PDF costs; raises a GraphQL error if refused."""
    assert upload.pdf is not None
    check_pdf_params(params)
    if upload.pdf.sub_status != ANALYZED or upload.pdf.scan is None:
        raise codes.graphql_error(
            codes.PDF_NOT_ANALYZED,
            f"the PDF is {upload.pdf.sub_status}; it can be enhanced once its analysis "
            "succeeded (METADATA_ANALYZED_SUCCESSFULLY); re-run a failed one with analyzePdf",
            id=upload.id,
            subStatus=upload.pdf.sub_status,
        )
    return job_cost(upload.pdf.scan, params)


def analysed(upload: UploadRecord) -> ScanResult:
    assert upload.pdf is not None
    assert upload.pdf.scan is not None
    return upload.pdf.scan


def modelled(upload: UploadRecord, params: Mapping[str, Any]) -> float:
    return modelled_seconds(analysed(upload), params)


async def run(
    executor: Executor | None,
    results_dir: Path,
    job: JobRecord,
    upload: UploadRecord,
    seed: int,
    seconds: float,
) -> tuple[Path, Rewritten]:
    """Write the enhanced PDF of this job; raises PdfProblem or EngineError."""
    assert upload.path is not None
    source = upload.path
    dest = results_dir / f"{job.id}.pdf"
    scan = analysed(upload)
    loop = asyncio.get_running_loop()

    def call() -> Rewritten:
        return rewrite(source, dest, scan, job.params, seed, seconds)

    report = await loop.run_in_executor(executor, call)
    job.filename = enhanced_filename(upload.original_filename, upload.id, "pdf")
    job.result_mimetype = PDF_MIMETYPE
    return dest, report
