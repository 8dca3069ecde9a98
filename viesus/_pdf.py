"""PDFs (photobooks): analyse, check the estimate against the budget, enhance, download.

The service analyses an uploaded PDF by itself [docs]: ``upload(id) { subStatus metadata }``
goes ``METADATA_ANALYZING`` -> ``METADATA_ANALYZED_SUCCESSFULLY`` (``metadata`` holds the image
counts and ``totalCredits``) or ``METADATA_ANALYZED_FAILED`` (re-run with ``analyzePdf``).
Enhancing then uses ``createEnhancedImage`` on the PDF's upload and yields a new PDF at
``fullUrl`` [inferred].

``analyze_pdf`` uploads through the same helpers as images (``viesus._uploads``), polls the
analysis with the client's poll schedule (growing intervals), re-triggers a failed analysis
once after a backoff, and raises ``PdfAnalysisFailed`` naming the file if it fails again.
``enhance_pdf`` analyses, refuses an estimate over ``max_credits`` or the remaining credits
*before* any create, creates once (a lost answer is reconciled from the upload's job list,
never blindly resent), waits with the shared poller and downloads ``NAME_enhanced.pdf``.

Assumptions where the docs are silent (``[assumption]``):
- ``metadata`` keys beyond ``statistics`` and ``totalCredits``: ``PdfAnalysis`` reads what the
  emulator documents (``estimatedCredits`` per feature combination, counts in ``statistics``),
  keeps everything else in ``metadata`` untouched, and never fails on an unknown key;
- a combination is named by its features in the order colour, restoration, upscaling joined
  by ``+`` (``colour+upscaling``); no option at all is the default colour enhancement;
- a ``subStatus`` of null on a finished PDF upload means "analysis not started yet".
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from viesus._downloads import download, output_path
from viesus._errors import InvalidInput, ServerError, ViesusError
from viesus._jobs import Job
from viesus._preflight import check_budget, check_output_folder
from viesus._redact import redact_url
from viesus._results import EnhanceResult
from viesus._uploads import LocalFile, UploadResult, upload_files, upload_urls
from viesus_client.enhancement_parameters import BY_GRAPHQL_PATH
from viesus_client.input_types import EnhancedImageInput

if TYPE_CHECKING:
    from viesus._client import Viesus

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


def _shown(source: str | Path) -> str:
    text = str(source)
    return redact_url(text) if "://" in text else text


def _local_pdf(source: Path) -> LocalFile:
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


async def _upload(client: Viesus, source: str | Path) -> str:
    """Upload one PDF; returns the upload id. Uploads are free: the helpers re-ask lost ones."""
    text = str(source)
    result: UploadResult
    if text.startswith(("http://", "https://")):
        (result,) = await upload_urls(client.api, [text], client.batch, client.retry_policy)
    else:
        item = _local_pdf(Path(source))
        (result,) = await upload_files(
            client.api, client.http, [item], client.batch, client.retry_policy, concurrency=1
        )
    if result.error is not None:
        raise result.error
    if result.upload_id is None:  # pragma: no cover - an UploadResult has one or the other
        raise ServerError(f"{_shown(source)}: the upload answer was lost")
    return result.upload_id


async def _await_analysis(
    client: Viesus, shown: str, upload_id: str, deadline: float
) -> tuple[str, dict[str, Any]]:
    """Poll ``upload { subStatus metadata }`` until the analysis ended; growing intervals."""
    loop = asyncio.get_running_loop()
    schedule = client.poller.schedule
    attempt = 0
    while True:
        answer = await client._call(client.api.get_pdf_analysis(upload_id))
        upload = answer.upload
        if upload is None:
            raise ServerError(f"{shown}: upload {upload_id} is gone")
        if upload.status.value == "UPLOAD_FAILED":
            raise PdfAnalysisFailed(shown, upload_id, None, "the service could not store it")
        status = upload.sub_status.value if upload.sub_status is not None else None
        if status is not None and status != ANALYZING:
            metadata = upload.metadata if isinstance(upload.metadata, dict) else {}
            return status, metadata
        delay = schedule.interval(attempt)
        attempt += 1
        if loop.time() + delay > deadline:
            raise PdfAnalysisFailed(
                shown, upload_id, None, f"not analysed in time (still {status or 'queued'})"
            )
        await asyncio.sleep(delay)


def _error_of(metadata: dict[str, Any]) -> tuple[str | None, str]:
    error = metadata.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message")
        return (str(code) if code else None, str(message) if message else "no reason given")
    return None, "no reason given"


async def analyze(
    client: Viesus, source: str | Path, *, upload_id: str | None = None, timeout: float = 600.0
) -> PdfAnalysis:
    """Upload ``source`` (unless ``upload_id`` names its upload) and return its analysis."""
    shown = _shown(source)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    if upload_id is None:
        upload_id = await _upload(client, source)
    status, metadata = await _await_analysis(client, shown, upload_id, deadline)
    if status == ANALYSIS_FAILED:
        code, message = _error_of(metadata)
        log.info("analysis of %s failed (%s); asking once more", shown, code)
        await asyncio.sleep(client.retry_policy.backoff(0))
        try:
            await client._call(client.api.analyze_pdf(upload_id))
        except ServerError:
            pass  # a lost answer: free and harmless twice; the poll below tells if it started
        except ViesusError as exc:
            if getattr(exc, "code", None) != "PDF_ANALYSIS_RUNNING":
                raise PdfAnalysisFailed(shown, upload_id, code, message) from exc
        status, metadata = await _await_analysis(client, shown, upload_id, deadline)
        if status == ANALYSIS_FAILED:
            code, message = _error_of(metadata)
            raise PdfAnalysisFailed(shown, upload_id, code, message)
    if status != ANALYZED:
        raise PdfAnalysisFailed(shown, upload_id, None, f"unknown analysis state {status}")
    return PdfAnalysis.from_metadata(shown, upload_id, status, metadata)


async def _create_once(client: Viesus, shown: str, upload_id: str, options: Any) -> Job:
    """One create; a lost answer is looked up on the upload (it is this PDF's own), not resent.

    [assumption, as for images] when the upload shows no job after a lost answer, the create
    was not applied and one more is safe; when the upload cannot be read, nothing is retried.
    """
    for attempt in range(2):
        try:
            created = await client._call(client.api.create_enhanced_image(upload_id, options))
        except ServerError as exc:
            log.info("create for %s lost (%s); looking at the upload's jobs", shown, exc)
            try:
                listed = await client._call(client.api.list_upload_enhanced_images(upload_id))
            except ViesusError as lookup:
                raise ServerError(
                    f"{shown}: the create's answer was lost and the upload cannot be read; "
                    "not retried (a job may exist)"
                ) from lookup
            jobs = listed.upload.enhanced_images if listed.upload is not None else []
            if jobs:
                client.adopted += 1
                return Job.from_fragment(jobs[0])
            if attempt == 1:
                raise
            continue
        return Job.from_fragment(created.create_enhanced_image)
    raise AssertionError("unreachable")  # pragma: no cover


async def enhance(
    client: Viesus,
    source: str | Path,
    options: EnhancedImageInput | None,
    out_dir: str | Path,
    *,
    max_credits: int | None,
    overwrite: bool,
    timeout: float | None,
) -> EnhanceResult:
    """Analyse, check the budget, enhance and download one PDF (see the module docstring)."""
    shown = _shown(source)
    combination_key(options)  # refuse unpriced options before uploading anything
    dest = output_path(str(source), Path(out_dir), "pdf")
    if dest.exists() and not overwrite:
        raise InvalidInput(shown, f"the output {dest} exists; pass overwrite=True to replace it")
    await asyncio.to_thread(check_output_folder, Path(out_dir))  # writable, before any upload
    analysis = await analyze(client, source, timeout=timeout or 600.0)
    cost = analysis.credits_for(options)
    if cost is None:
        raise InvalidInput(shown, "the analysis gives no estimate for these options")
    check_budget(cost, max_credits, await client.remaining_credits())
    job = await _create_once(client, shown, analysis.upload_id, options)
    job = await client.wait(job.id, timeout=timeout)
    if job.full_url is None:
        raise ServerError(f"{shown}: enhancement {job.id} finished without a download URL")
    written = await download(
        client.http, job.full_url, dest, policy=client.retry_policy, overwrite=overwrite
    )
    return EnhanceResult(
        source=shown,
        status="finished",
        output_path=written,
        job_id=job.id,
        upload_id=analysis.upload_id,
        credits=cost,
    )
