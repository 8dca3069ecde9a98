"""``AsyncViesus``: the client most users need, over the generated typed client.

One ``httpx.AsyncClient`` (keep-alive pool, retries under it) is shared by the generated client
(``viesus.api``), uploads, downloads, the poller and the pipeline. The API key goes only on
GraphQL requests to the endpoint, never on signed upload/download URLs, and appears in no repr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
)
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

import httpx
from pydantic import ValidationError

from viesus._aliased_requests import BatchSize, ScaledBatchSize, run_batches
from viesus._api_errors import map_error
from viesus._errors import (
    ConfigurationError,
    EnhancementFailed,
    GraphQLRequestError,
    InvalidInput,
    UnexpectedResponse,
    ViesusError,
)
from viesus._jobs import Job
from viesus._options import EnhanceOptions, as_options
from viesus._polling import FetchResult, OnFinal, Poller, PollSchedule
from viesus._preflight import check_output_folder, check_sources
from viesus._redact import install_log_redaction, redact_url
from viesus._retries import RetryingTransport, RetryPolicy
from viesus_client.client import ViesusApiClient
from viesus_client.input_types import EnhancedImageInput

# What only some methods need loads when they first run (``from viesus import AsyncViesus`` stays
# close to the cost of httpx + pydantic + graphql-core): the pipeline and journals, PDFs,
# webhooks and the batch-document builders.
if TYPE_CHECKING:
    from viesus._browser_uploads import BrowserUpload, UploadJob
    from viesus._journal.store import JournalStore
    from viesus._pdf import PdfAnalysis
    from viesus._plans import BatchPlan
    from viesus._results import EnhanceResult, FinishedResult
    from viesus._shared_batch import SharedBatch
    from viesus._webhooks.receiver import WebhookReceiver
    from viesus._webhooks.registration import RegisteredWebhook
    from viesus._webhooks.signature import WebhookEvent
    from viesus_client.fragments import CreditsFields

T = TypeVar("T")
log = logging.getLogger("viesus._client")

DEFAULT_ENDPOINT = "https://api.viesus.cloud/graphql"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)

__all__ = ["DEFAULT_ENDPOINT", "AsyncViesus", "EnhanceOptions"]

# Options as a caller may pass them: EnhanceOptions (or the generated EnhancedImageInput it
# extends), or a dict with GraphQL or snake_case names.
Options = EnhancedImageInput | Mapping[str, Any] | None


class AsyncViesus:
    """Async client for VIESUS Cloud (or the local emulator).

    ``api_key`` and ``endpoint`` default to ``VIESUS_API_KEY`` and ``VIESUS_ENDPOINT``.
    ``batch_size`` root fields go in one aliased mutation (the free signed-upload steps of
    local files twice as many); ``poll_batch_size`` jobs in one poll. ``timeout`` is per HTTP
    request; wait deadlines are separate (``wait(timeout=)``).
    """

    def __init__(
        self,
        api_key: str | None = None,
        endpoint: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        batch_size: int = 50,
        poll_batch_size: int = 50,
        poll_schedule: PollSchedule | None = None,
        upload_concurrency: int = 4,
        download_concurrency: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("VIESUS_API_KEY")
        if not key:
            raise ConfigurationError(
                "no API key: pass api_key=... or set VIESUS_API_KEY (the emulator's is 'local')"
            )
        # httpx logs request URLs at INFO; signed URLs must not reach the application's logs.
        install_log_redaction()
        self.endpoint = endpoint or os.environ.get("VIESUS_ENDPOINT") or DEFAULT_ENDPOINT
        if not self.endpoint.startswith(("http://", "https://")):
            raise ConfigurationError(f"endpoint {redact_url(self.endpoint)} is not an http(s) URL")
        # HTTP/1.1 keep-alive: HTTP/2 was not measured (neither the emulator nor, as far as
        # is documented, the service offers it), so it is not switched on blind.
        inner = transport or httpx.AsyncHTTPTransport()
        self.retry_policy = retry or RetryPolicy()
        self.http = httpx.AsyncClient(
            transport=RetryingTransport(inner, self.retry_policy),
            timeout=timeout,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )
        self.api = ViesusApiClient(
            url=self.endpoint, headers={"x-api-key": key}, http_client=self.http
        )
        self.batch = BatchSize(batch_size)
        # The two signed-upload steps of local files are free and quick on the server (no
        # fetch) and the pipeline uploads two batches per wave: a wave's reservations and
        # confirmations go in one request each (files at 1,000: 2.12 -> 2.10 requests per
        # image). URL uploads stay at ``batch_size``: the service fetches each source while
        # the request is open, and mutation fields run one after another.
        self.signed_batch: BatchSize = ScaledBatchSize(self.batch, 2)
        self._poll_size = BatchSize(poll_batch_size)
        self.upload_concurrency = upload_concurrency
        self.download_concurrency = download_concurrency
        self.adopted = 0  # jobs found by reconciliation instead of created again
        self.poller = Poller(self._fetch_jobs, batch_size=poll_batch_size, schedule=poll_schedule)

    def __repr__(self) -> str:
        return f"AsyncViesus(endpoint={redact_url(self.endpoint)!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.poller.aclose()
        await self.http.aclose()

    # --- reads ----------------------------------------------------------------------------
    async def credits(self) -> CreditsFields:
        result = await self._call(self.api.get_credits())
        if result.credits is None:
            raise ViesusError("the API returned no credit information")
        return result.credits

    async def remaining_credits(self) -> int:
        return (await self.credits()).remaining_credits_this_period

    # --- waiting ----------------------------------------------------------------------------
    async def wait(self, job_id: str, timeout: float | None = 300.0) -> Job:
        """The FINISHED job (with its download URL); ``EnhancementFailed`` on ERROR,
        ``WaitTimeout`` at the deadline, ``ClientClosed`` if the client closes meanwhile."""
        job = await self.wait_job(job_id, timeout)
        if not job.finished:
            raise EnhancementFailed(job.id, job.error_code)
        return job

    async def wait_job(self, job_id: str, timeout: float | None) -> Job:
        """The job once FINISHED or ERROR (no exception for ERROR)."""
        return await self.poller.wait(job_id, timeout=timeout)

    def watch_job(
        self, job_id: str, on_final: OnFinal, timeout: float | None
    ) -> Callable[[], None]:
        """:meth:`wait_job` as a record in the poller, for a batch's many jobs at once:
        ``on_final`` gets the job or the error; the function returned ends the watch."""
        return self.poller.watch(job_id, on_final, timeout=timeout)

    async def _fetch_jobs(self, ids: list[str]) -> FetchResult:
        from viesus._selections import poll_job

        outcomes = await run_batches(
            self.api,
            ids,
            poll_job,
            operation_name="PollEnhancedImages",
            mutation=False,
            size=self._poll_size,
        )
        self.poller.batch_size = self._poll_size.value
        for outcome in outcomes:
            # Per-alias failures are GraphQL errors; anything else failed the whole request
            # (server, rate limit, auth): raise it so the poller backs off or gives up.
            if outcome.error is not None and not isinstance(outcome.error, GraphQLRequestError):
                raise outcome.error
        result: FetchResult = {}
        for job_id, outcome in zip(ids, outcomes, strict=True):
            if outcome.error is not None:
                result[job_id] = outcome.error
            elif outcome.data is None:
                result[job_id] = None
            else:
                result[job_id] = Job.from_data(outcome.data)
        return result

    # --- enhancing --------------------------------------------------------------------------
    async def enhance(
        self,
        source: str | Path,
        options: Options = None,
        out_dir: str | Path = ".",
        *,
        overwrite: bool = False,
        max_credits: int | None = None,
        timeout: float | None = 600.0,
        downscale: bool = False,
    ) -> FinishedResult:
        """Enhance one file or URL; returns the result, raises its error if it failed."""
        from viesus._results import FinishedResult

        if not isinstance(source, str | os.PathLike) or isinstance(source, bytes):
            raise InvalidInput(
                "source", f"a {type(source).__name__} is not a file path or an http(s) URL"
            )
        # aclosing: the batch's tasks are stopped and awaited before this returns.
        batch = self.enhance_many(
            [source],
            options,
            out_dir,
            overwrite=overwrite,
            max_credits=max_credits,
            timeout=timeout,
            downscale=downscale,
        )
        async with contextlib.aclosing(batch) as results:
            async for result in results:
                return FinishedResult.of(result)  # raises the item's error if it failed
        raise ViesusError("no result")  # pragma: no cover - one source gives one result

    async def enhance_many(
        self,
        sources: Iterable[str | Path],
        options: Options = None,
        out_dir: str | Path = ".",
        *,
        journal: str | Path | JournalStore | None = None,
        batch: str | SharedBatch | None = None,
        overwrite: bool = False,
        max_credits: int | None = None,
        timeout: float | None = 900.0,
        root: str | Path | None = None,
        downscale: bool = False,
    ) -> AsyncGenerator[EnhanceResult, None]:
        """One result per source, as they complete (see :mod:`viesus._pipeline`).

        Raises before anything is spent when a source is not a path or URL, the options are
        invalid (unknown names included; a dict is converted like ``EnhanceOptions``), the
        output folder cannot be written, or the estimated credits exceed ``max_credits`` or
        the account's remaining credits. Outputs mirror the sources' folders under
        ``out_dir``, relative to ``root`` (default: the deepest folder holding every local
        source). ``s3://`` sources and ``out_dir``: see :mod:`viesus._buckets` (the
        ``buckets`` extra). ``downscale``: an input over the AI-upscaling input limit
        (3,000 px) is sent downscaled to fit instead of refused (``downscaled`` says so).
        ``journal``: a file path (a SQLite
        :class:`viesus.Journal`, opened and closed here) or any open
        :class:`viesus._journal.store.JournalStore`; a rerun with it never pays twice for an item.
        A ``postgresql://`` URL is a journal shared by many workers: ``batch`` names the batch
        every worker joins (see :mod:`viesus._shared_batch`); ``max_credits`` is then the
        batch's budget, enforced across workers.
        """
        from viesus._buckets.run import bucket_run
        from viesus._journal.postgres.journal import is_postgres_url
        from viesus._journal.sqlite import Journal
        from viesus._pipeline import Pipeline

        checked_sources = check_sources(sources)
        checked_options = as_options(options)
        buckets = bucket_run(checked_sources, out_dir, shared=is_postgres_url(journal))
        if buckets is None or buckets.out is None:
            await asyncio.to_thread(check_output_folder, Path(out_dir))
        if is_postgres_url(journal):
            from viesus._shared_batch import drain, shared_batch

            shared = drain(
                self,
                checked_sources,
                checked_options,
                Path(out_dir),
                dsn=str(journal),
                batch=shared_batch(batch),
                **_run_settings(overwrite, max_credits, timeout, root, downscale),
            )
            async with contextlib.aclosing(shared) as results:
                async for result in results:
                    yield result
            return
        if batch is not None:
            raise ConfigurationError(
                "batch= names a batch in a shared journal: pass journal='postgresql://…' with "
                "it, or drop batch= (a journal file serves one process)"
            )
        owned = isinstance(journal, str | Path)
        opened = Journal.open(journal) if isinstance(journal, str | Path) else journal
        pipeline = Pipeline(
            self,
            checked_options,
            Path(out_dir),
            journal=opened,
            buckets=buckets,
            **_run_settings(overwrite, max_credits, timeout, root, downscale),
        )
        try:
            # aclosing: an abandoned batch stops its tasks *before* the journal closes.
            async with contextlib.aclosing(pipeline.run(checked_sources)) as results:
                async for result in results:
                    yield result
        finally:
            if owned and opened is not None:
                opened.close()

    async def plan_many(
        self,
        sources: Iterable[str | Path],
        options: Options = None,
        out_dir: str | Path = ".",
        *,
        journal: str | Path | JournalStore | None = None,
        overwrite: bool = False,
        root: str | Path | None = None,
        downscale: bool = False,
    ) -> BatchPlan:
        """What ``enhance_many`` with the same arguments would do, decided by its own checks:
        per source the action, output path, credits still to pay and any refusal. Sends no
        request and writes nothing; a journal file is only read (none yet: a fresh batch).
        PDFs are left unpriced (``credits=None``): their price needs the service's analysis
        (:meth:`analyze_pdf`)."""
        from viesus._buckets.run import bucket_run
        from viesus._journal.sqlite import Journal
        from viesus._pipeline import Pipeline

        checked_sources = check_sources(sources)
        checked_options = as_options(options)
        opened: JournalStore | None
        if isinstance(journal, str | Path):
            opened = Journal.open(journal) if Path(journal).exists() else None
        else:
            opened = journal
        pipeline = Pipeline(
            self,
            checked_options,
            Path(out_dir),
            journal=opened,
            overwrite=overwrite,
            max_credits=None,
            timeout=None,
            root=None if root is None else Path(root),
            downscale=downscale,
            buckets=bucket_run(checked_sources, out_dir),  # listed: nothing is written
        )
        try:
            return await pipeline.plan(checked_sources)
        finally:
            if isinstance(journal, str | Path) and opened is not None:
                opened.close()

    # --- PDFs (viesus._pdf) -------------------------------------------------------------------
    async def analyze_pdf(self, source: str | Path, *, timeout: float = 600.0) -> PdfAnalysis:
        """Upload a PDF (path or URL) and return the service's analysis: image counts and the
        estimated credits. A failed analysis is re-triggered once, then ``PdfAnalysisFailed``."""
        from viesus._pdf import analyze

        return await analyze(self, source, timeout=timeout)

    async def enhance_pdf(
        self,
        source: str | Path,
        options: Options = None,
        out_dir: str | Path = ".",
        *,
        max_credits: int | None = None,
        overwrite: bool = False,
        timeout: float | None = 900.0,
    ) -> EnhanceResult:
        """Analyse a PDF, refuse an estimate over ``max_credits`` (or the remaining credits)
        before anything is created, enhance it and download ``NAME_enhanced.pdf``.

        The same run as ``enhance`` (``enhance_many`` takes PDFs); this only refuses a source
        that is not a PDF before anything is uploaded.
        """
        from viesus._pdf import is_pdf_url, local_pdf

        text = str(source)
        if "://" in text and not is_pdf_url(text):
            raise InvalidInput(redact_url(text), "is not a PDF URL (its path must end in .pdf)")
        if "://" not in text:
            await asyncio.to_thread(local_pdf, Path(source))
        return await self.enhance(
            source,
            options,
            out_dir,
            overwrite=overwrite,
            max_credits=max_credits,
            timeout=timeout,
        )

    # --- webhooks ---------------------------------------------------------------------------
    async def register_webhook(self, url: str, *, replace: bool = False) -> RegisteredWebhook:
        """Register ``url`` (at most 5 per account); keep the returned secret, shown only once.

        Pass the secret to :meth:`webhook_receiver` in the app that serves ``url``.
        """
        from viesus._webhooks.registration import register_webhook

        return await self._call(register_webhook(self.api, url, replace=replace))

    async def remove_webhook(self, webhook_id: str) -> bool:
        """Delete a webhook; ``False`` if there was none with that id."""
        from viesus._webhooks.registration import remove_webhook

        return await self._call(remove_webhook(self.api, webhook_id))

    def webhook_receiver(self, secrets: str | list[str]) -> WebhookReceiver:
        """An ASGI app to mount in your web app: a verified delivery about a job makes the
        client read that job at once (batched with other due reads).

        Webhooks are hints, the API is the truth: the delivery's content never ends a wait.
        While deliveries arrive, new looks slow to the schedule's safety interval.
        """
        from viesus._webhooks.receiver import WebhookReceiver

        return WebhookReceiver(secrets, self._on_webhook)

    def _on_webhook(self, event: WebhookEvent) -> None:
        if event.job_id is not None:
            self.poller.hint(event.job_id)
        else:
            self.poller.note_delivery()

    @contextlib.asynccontextmanager
    async def listen_for_webhooks(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url: str | None = None,
        name: str = "default",
    ) -> AsyncIterator[RegisteredWebhook]:
        """Start a listener, register it as a webhook, read jobs at once when deliveries come.

        ``public_url`` is the address the service can reach (a tunnel, a public host; it must
        forward every path); by default the listener's own URL, which only a local emulator
        can reach. The registered URL is that address plus a tag path
        ``/viesus-listener/<machine>/<name>/<pid>/<nonce>``, so the registration is
        recognisable: on start, webhooks that listeners named ``name`` on this machine left
        behind (their process is gone) are deleted; on exit this one is. Webhooks the caller
        made are never touched.
        """
        from viesus._webhooks.listener import WebhookListener
        from viesus._webhooks.receiver import WebhookReceiver
        from viesus._webhooks.registration import (
            ACTIVE_LISTENER_URLS,
            ListenerTag,
            register_webhook,
            remove_stale_listeners,
        )

        try:
            tag = ListenerTag.for_this_process(name)
        except ValueError as exc:
            raise ConfigurationError(f"listen_for_webhooks(name={name!r}): {exc}") from None
        receiver = WebhookReceiver([], self._on_webhook)
        async with WebhookListener(receiver, host=host, port=port) as listener:
            url = tag.url_on(public_url or listener.url)
            ACTIVE_LISTENER_URLS.add(url)
            try:
                await remove_stale_listeners(self.api, tag)
                registered = await register_webhook(self.api, url)
                receiver.set_secrets(registered.secret.get_secret_value())
                try:
                    yield registered
                finally:
                    await self._remove_listener_webhook(registered.id, name)
            finally:
                ACTIVE_LISTENER_URLS.discard(url)

    async def _remove_listener_webhook(self, webhook_id: str, name: str) -> None:
        from viesus._webhooks.registration import DELETE_HINT, remove_webhook

        try:
            await remove_webhook(self.api, webhook_id)
        except ViesusError as exc:
            log.warning(
                "could not delete webhook %s (%s); the next listen_for_webhooks(name=%r) on this "
                "machine deletes it, or run `%s`",
                webhook_id,
                type(exc).__name__,
                name,
                DELETE_HINT.format(id=webhook_id),
            )

    async def _call(self, awaitable: Awaitable[T]) -> T:
        """Await a generated-client call, turning its raw errors into typed ones.

        An answer that fails the generated models' validation (schema drift) becomes
        ``UnexpectedResponse`` naming the fields and the problems, never the values.
        """
        try:
            return await awaitable
        except ViesusError:
            raise
        except ValidationError as exc:
            raise UnexpectedResponse(
                "the API's answer does not match this client's schema ("
                + validation_summary(exc)
                + "); the API may have changed: update viesus-toolkit, or regenerate the "
                "client (make pull && make generate)"
            ) from None
        except Exception as exc:
            raise map_error(exc) from None

    # --- the web-app flow: the browser PUTs, the server enhances (viesus._browser_uploads) ---
    async def create_browser_upload(
        self, filename: str, size: int, mimetype: str | None, *, max_bytes: int | None = None
    ) -> BrowserUpload:
        """Check a page's file (type by name and mimetype, ``size`` against ``max_bytes``,
        default 100 MiB [assumption]) and reserve a signed upload for the page to PUT."""
        from viesus._browser_uploads import MAX_BROWSER_UPLOAD_BYTES, create_browser_upload

        limit = MAX_BROWSER_UPLOAD_BYTES if max_bytes is None else max_bytes
        return await self._call(create_browser_upload(self, filename, size, mimetype, limit))

    async def enhance_upload(
        self, upload_id: str, options: Options = None, *, wait: bool = False, timeout: float = 600.0
    ) -> UploadJob:
        """Complete the page's upload and make its job, adopting one the upload already has
        (a retry after a crash pays once); ``wait``: return it FINISHED (or raise)."""
        from dataclasses import replace

        from viesus._browser_uploads import enhance_upload

        made = await self._call(enhance_upload(self, upload_id, as_options(options)))
        return replace(made, job=await self.wait(made.job.id, timeout)) if wait else made


def _run_settings(
    overwrite: bool,
    max_credits: int | None,
    timeout: float | None,
    root: str | Path | None,
    downscale: bool,
) -> dict[str, Any]:
    """``enhance_many``'s run settings as the pipeline and the shared batch take them."""
    return {
        "overwrite": overwrite,
        "max_credits": max_credits,
        "timeout": timeout,
        "root": None if root is None else Path(root),
        "downscale": downscale,
    }


def validation_summary(exc: ValidationError, limit: int = 5) -> str:
    """``field.path: problem`` for the first ``limit`` errors, without the offending values."""
    errors = exc.errors(include_input=False, include_url=False)
    parts = [
        f"{'.'.join(str(p) for p in error['loc']) or 'answer'}: {error['type']}"
        for error in errors[:limit]
    ]
    more = f"; {len(errors) - limit} more" if len(errors) > limit else ""
    return "; ".join(parts) + more
