"""PDFs (photobooks): the analysis the service makes of an uploaded PDF, and its estimate.

Waits for many analyses with one aliased query per tick, re-triggers a failed one once, and
reads the estimate for a batch's options. The flow and what is inferred: docs/DESIGN.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from viesus._aliased_requests import BatchSize, Outcome, run_batches
from viesus._errors import InvalidInput, ServerError, UnexpectedResponse, ViesusError
from viesus._polling import Poller
from viesus._redact import redact_url
from viesus._retries import RetryPolicy
from viesus._uploads import LocalFile, UploadResult, upload_files, upload_urls
from viesus_client import ViesusApiClient
from viesus_client.custom_fields import UploadFields
from viesus_client.custom_mutations import Mutation
from viesus_client.custom_queries import Query
from viesus_client.enhancement_parameters import BY_GRAPHQL_PATH
from viesus_client.get_pdf_analysis import GetPdfAnalysisUpload
from viesus_client.input_types import EnhancedImageInput

log = logging.getLogger("viesus._pdf")

PDF_MIMETYPE: Final = "application/pdf"
ANALYZING: Final = "METADATA_ANALYZING"
ANALYZED: Final = "METADATA_ANALYZED_SUCCESSFULLY"
ANALYSIS_FAILED: Final = "METADATA_ANALYZED_FAILED"
#: The order features are named in a combination key [assumption, the emulator's].
FEATURE_ORDER: Final = ("colour", "restoration", "upscaling")
DEFAULT_COMBINATION: Final = "colour"


class PdfAnalysisFailed(ViesusError):
    """The service could not analyse a PDF (twice: it was re-triggered once).

    ``error_code`` is the service's ``metadata.error.code`` (None when the analysis did not
    end in time); nothing was charged.
    """

    def __init__(
        self, source: str, upload_id: str | None, error_code: str | None, detail: str
    ) -> None:
        code = f" ({error_code})" if error_code else ""
        super().__init__(f"{source}: the PDF analysis failed{code}: {detail}")
        self.source = source
        self.upload_id = upload_id
        self.error_code = error_code
        self.detail = detail


class PdfStatistics(BaseModel):
    """``metadata.statistics``: the image counts. Unknown keys are kept (``model_extra``)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    pages: int | None = None
    total_images: int | None = Field(default=None, alias="totalImages")
    placements: int | None = None
    inline_images: int | None = Field(default=None, alias="inlineImages")
    colour_images: int | None = Field(default=None, alias="colorEnhancementImages")
    restoration_images: int | None = Field(default=None, alias="restorationImages")
    upscaling_images: int | None = Field(default=None, alias="upscalingImages")


class PdfAnalysis(BaseModel):
    """A PDF's analysis, as the service reported it; ``metadata`` is the raw JSON, exact.

    ``total_credits`` is the estimate of the default enhancement [docs: ``totalCredits``];
    ``estimated_credits`` the estimate per feature combination (``credits_for(options)``).
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    source: str
    upload_id: str
    sub_status: str
    statistics: PdfStatistics = Field(default_factory=PdfStatistics)
    total_credits: int | None = Field(default=None, alias="totalCredits")
    estimated_credits: dict[str, int] = Field(default_factory=dict, alias="estimatedCredits")
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_metadata(
        cls, source: str, upload_id: str, sub_status: str, metadata: dict[str, Any]
    ) -> PdfAnalysis:
        known: dict[str, Any] = {
            k: metadata[k] for k in ("statistics", "totalCredits") if k in metadata
        }
        estimates = metadata.get("estimatedCredits")
        if isinstance(estimates, dict):
            known["estimatedCredits"] = {
                str(k): v for k, v in estimates.items() if isinstance(v, int)
            }
        base = {"source": source, "upload_id": upload_id, "sub_status": sub_status}
        try:
            return cls.model_validate({**base, "metadata": metadata, **known})
        except ValidationError:
            # Counts of an unexpected shape must not lose the analysis: keep the raw JSON.
            log.warning("PDF analysis of %s has unexpected values; keeping them raw", source)
            return cls.model_validate({**base, "metadata": metadata})

    def credits_for(self, options: EnhancedImageInput | None = None) -> int | None:
        """The estimate for these options, or None when the analysis does not give one."""
        key = combination_key(options)
        if key in self.estimated_credits:
            return self.estimated_credits[key]
        if key == DEFAULT_COMBINATION:
            return self.total_credits
        return None


def combination_key(options: EnhancedImageInput | None) -> str:
    """``colour+upscaling`` for options setting colour and upscaling fields; default colour.

    Raises ``InvalidInput`` for options outside the combinations a PDF analysis prices
    (background removal, presets): their cost cannot be known before the create.
    """
    sent = {} if options is None else options.model_dump(by_alias=True, exclude_none=True)
    features = set()
    for name in sent:
        parameter = BY_GRAPHQL_PATH.get(name)
        feature = parameter.feature if parameter is not None else "unknown"
        if feature not in FEATURE_ORDER:
            raise InvalidInput(
                f"option {name}",
                f"its feature ({feature}) has no estimate in a PDF analysis; PDFs take colour, "
                "restoration and upscalingFactor options",
            )
        features.add(feature)
    return "+".join(f for f in FEATURE_ORDER if f in features) or DEFAULT_COMBINATION


def is_pdf_url(url: str) -> bool:
    """A URL names a PDF when its path ends in ``.pdf`` [assumption: its type is known only
    after the upload, and the budget must be checked before]."""
    return url.split("?", 1)[0].split("#", 1)[0].lower().endswith(".pdf")


def looks_like_pdf(source: str | Path) -> bool:
    """A URL ending in ``.pdf``, or a file whose first KiB holds ``%PDF-`` (an unreadable one
    is not: its own checks report it). Reads a file: call it off the event loop."""
    text = str(source)
    if text.startswith(("http://", "https://")):
        return is_pdf_url(text)
    try:
        with Path(source).open("rb") as handle:
            return b"%PDF-" in handle.read(1024)
    except OSError:
        return False


def _shown(source: str | Path) -> str:
    text = str(source)
    return redact_url(text) if "://" in text else text


def local_pdf(source: Path) -> LocalFile:
    """The file as an upload item, after checking it is a readable PDF (no credits yet)."""
    try:
        with source.open("rb") as handle:
            head = handle.read(1024)
        size = source.stat().st_size
    except OSError as exc:
        raise InvalidInput(str(source), f"cannot be read ({exc.strerror or exc})") from exc
    if b"%PDF-" not in head:
        raise InvalidInput(str(source), "is not a PDF (no %PDF- header in its first KiB)")
    return LocalFile(path=source, mimetype=PDF_MIMETYPE, size=size)


class AnalysisClient(Protocol):
    """What waiting for analyses needs from the client (:class:`viesus.AsyncViesus` has it)."""

    api: ViesusApiClient
    http: httpx.AsyncClient
    batch: BatchSize
    retry_policy: RetryPolicy
    poller: Poller


async def _upload(client: AnalysisClient, source: str | Path) -> str:
    """Upload one PDF; returns the upload id. Uploads are free: the helpers re-ask lost ones."""
    text = str(source)
    result: UploadResult
    if text.startswith(("http://", "https://")):
        (result,) = await upload_urls(client.api, [text], client.batch, client.retry_policy)
    else:
        item = local_pdf(Path(source))
        (result,) = await upload_files(
            client.api, client.http, [item], client.batch, client.retry_policy, concurrency=1
        )
    if result.error is not None:
        raise result.error
    if result.upload_id is None:  # pragma: no cover - an UploadResult has one or the other
        raise ServerError(f"{_shown(source)}: the upload answer was lost")
    return result.upload_id


def _analysis_field(upload_id: str) -> UploadFields:
    """``GetPdfAnalysis``'s selection (queries/pdf.graphql), aliased once per PDF."""
    return Query.upload(id=upload_id).fields(
        UploadFields.id, UploadFields.status, UploadFields.sub_status, UploadFields.metadata
    )


def _retrigger_field(upload_id: str) -> UploadFields:
    return Mutation.analyze_pdf(upload_id).fields(UploadFields.id, UploadFields.sub_status)


def _error_of(metadata: dict[str, Any]) -> tuple[str | None, str]:
    error = metadata.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message")
        return (str(code) if code else None, str(message) if message else "no reason given")
    return None, "no reason given"


def _read(outcome: Outcome, shown: str, upload_id: str) -> tuple[str | None, dict[str, Any]]:
    """``(subStatus, metadata)`` of one upload; raises what ends its wait."""
    if outcome.error is not None:
        raise outcome.error
    if outcome.data is None:
        raise ServerError(f"{shown}: upload {upload_id} is unknown to the service")
    try:
        upload = GetPdfAnalysisUpload.model_validate(outcome.data)
    except ValidationError:
        raise UnexpectedResponse(
            f"{shown}: the service's answer about the PDF analysis does not match this "
            "client's schema; update viesus-toolkit"
        ) from None
    if upload.status.value == "UPLOAD_FAILED":
        raise PdfAnalysisFailed(shown, upload_id, None, "the service could not store it")
    metadata = upload.metadata if isinstance(upload.metadata, dict) else {}
    return (upload.sub_status.value if upload.sub_status is not None else None), metadata


async def await_analyses(
    client: AnalysisClient, pdfs: Sequence[tuple[str, str]], timeout: float
) -> list[PdfAnalysis | ViesusError]:
    """The analysis (or why not) of each uploaded PDF ``(shown source, upload id)``, in order.

    All PDFs still analysing are read with one aliased query per tick (the client's poll
    schedule: growing intervals); a failed analysis is re-triggered once, after a backoff,
    with ``analyzePdf`` (free; a lost answer is harmless, the next read tells). A second
    failure, a failed upload or the deadline gives ``PdfAnalysisFailed`` naming the file.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    results: dict[int, PdfAnalysis | ViesusError] = {}
    failures: dict[int, tuple[str | None, str]] = {}
    pending = list(range(len(pdfs)))
    attempt = 0
    while pending:
        outcomes = await run_batches(
            client.api,
            [pdfs[i][1] for i in pending],
            _analysis_field,
            operation_name="GetPdfAnalyses",
            mutation=False,
            size=client.batch,
        )
        waiting: list[int] = []
        failed_once: list[int] = []
        for index, outcome in zip(pending, outcomes, strict=True):
            shown, upload_id = pdfs[index]
            try:
                status, metadata = _read(outcome, shown, upload_id)
            except ViesusError as exc:
                results[index] = exc
                continue
            if status is None or status == ANALYZING:
                waiting.append(index)
            elif status == ANALYZED:
                results[index] = PdfAnalysis.from_metadata(shown, upload_id, status, metadata)
            elif status == ANALYSIS_FAILED and index not in failures:
                failures[index] = _error_of(metadata)
                failed_once.append(index)
            elif status == ANALYSIS_FAILED:
                results[index] = PdfAnalysisFailed(shown, upload_id, *_error_of(metadata))
            else:
                detail = f"unknown analysis state {status}"
                results[index] = PdfAnalysisFailed(shown, upload_id, None, detail)
        if failed_once:
            results.update(await _retrigger(client, pdfs, failed_once, failures))
            waiting += [i for i in failed_once if i not in results]
        pending = sorted(waiting)
        if not pending:
            break
        delay = client.poller.schedule.interval(attempt)
        attempt += 1
        if loop.time() + delay > deadline:
            for index in pending:
                shown, upload_id = pdfs[index]
                detail = "not analysed in time (still analysing)"
                results[index] = PdfAnalysisFailed(shown, upload_id, None, detail)
            break
        await asyncio.sleep(delay)
    return [results[i] for i in range(len(pdfs))]


async def _retrigger(
    client: AnalysisClient,
    pdfs: Sequence[tuple[str, str]],
    indexes: list[int],
    failures: dict[int, tuple[str | None, str]],
) -> dict[int, ViesusError]:
    """``analyzePdf`` once for each failed analysis, after a backoff; the refused ones."""
    for index in indexes:
        log.info("analysis of %s failed (%s); asking once more", pdfs[index][0], failures[index])
    await asyncio.sleep(client.retry_policy.backoff(0))
    outcomes = await run_batches(
        client.api,
        [pdfs[i][1] for i in indexes],
        _retrigger_field,
        operation_name="AnalyzePdfs",
        mutation=True,
        size=client.batch,
    )
    refused: dict[int, ViesusError] = {}
    for index, outcome in zip(indexes, outcomes, strict=True):
        error = outcome.error
        if (
            error is None
            or outcome.ambiguous
            or getattr(error, "code", None) == "PDF_ANALYSIS_RUNNING"
        ):
            continue  # started (or maybe: the next read tells)
        shown, upload_id = pdfs[index]
        refused[index] = PdfAnalysisFailed(shown, upload_id, *failures[index])
    return refused


async def analyze(
    client: AnalysisClient,
    source: str | Path,
    *,
    upload_id: str | None = None,
    timeout: float = 600.0,
) -> PdfAnalysis:
    """Upload ``source`` (unless ``upload_id`` names its upload) and return its analysis."""
    shown = _shown(source)
    if upload_id is None:
        upload_id = await _upload(client, source)
    (result,) = await await_analyses(client, [(shown, upload_id)], timeout)
    if isinstance(result, ViesusError):
        raise result
    return result
