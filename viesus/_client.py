"""``Viesus``: the client most users need, over the generated typed client.

One ``httpx.AsyncClient`` (keep-alive pool, retries under it) is shared by the generated client
(``viesus.api``), uploads, downloads, the poller and the pipeline. The API key goes only on
GraphQL requests to the endpoint, never on signed upload/download URLs, and appears in no repr.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import httpx

from viesus._api_errors import map_error
from viesus._batching import BatchSize, run_batches
from viesus._errors import ConfigurationError, EnhancementFailed, GraphQLRequestError, ViesusError
from viesus._jobs import Job
from viesus._journal import Journal
from viesus._pipeline import Pipeline
from viesus._polling import FetchResult, Poller, PollSchedule
from viesus._preflight import validate_options
from viesus._redact import install_log_redaction, redact_url
from viesus._results import EnhanceResult, FinishedResult
from viesus._retries import RetryingTransport, RetryPolicy
from viesus._selections import poll_job
from viesus._webhooks import (
    RegisteredWebhook,
    WebhookEvent,
    WebhookListener,
    WebhookReceiver,
    register_webhook,
    remove_webhook,
)
from viesus_client import ViesusApiClient
from viesus_client.fragments import CreditsFields
from viesus_client.input_types import EnhancedImageInput

T = TypeVar("T")

DEFAULT_ENDPOINT = "https://api.viesus.cloud/graphql"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)

EnhanceOptions = EnhancedImageInput
"""The options of one enhancement: the generated ``EnhancedImageInput`` itself, so a schema
change reaches users by regenerating. Unset fields are not sent."""


class Viesus:
    """Async client for VIESUS Cloud (or the local emulator).

    ``api_key`` and ``endpoint`` default to ``VIESUS_API_KEY`` and ``VIESUS_ENDPOINT``.
    ``batch_size`` root fields go in one aliased mutation; ``poll_batch_size`` jobs in one
    poll. ``timeout`` is per HTTP request; wait deadlines are separate (``wait(timeout=)``).
    """

    def __init__(
        self,
        api_key: str | None = None,
        endpoint: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        batch_size: int = 25,
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
        self._poll_size = BatchSize(poll_batch_size)
        self.upload_concurrency = upload_concurrency
        self.download_concurrency = download_concurrency
        self.adopted = 0  # jobs found by reconciliation instead of created again
        self._webhook_receivers = 0
        self.poller = Poller(
            self._fetch_jobs,
            batch_size=poll_batch_size,
            schedule=poll_schedule,
            webhooks_active=lambda: self._webhook_receivers > 0,
        )

    def __repr__(self) -> str:
        return f"Viesus(endpoint={redact_url(self.endpoint)!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
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
        """The FINISHED job; ``EnhancementFailed`` on ERROR, ``WaitTimeout`` at the deadline."""
        job = await self.wait_job(job_id, timeout)
        if not job.finished:
            raise EnhancementFailed(job.id, job.error_code)
        return job

    async def wait_job(self, job_id: str, timeout: float | None) -> Job:
        """The job once FINISHED or ERROR (no exception for ERROR)."""
        return await self.poller.wait(job_id, timeout=timeout)

    async def _fetch_jobs(self, ids: list[str]) -> FetchResult:
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
        options: EnhanceOptions | None = None,
        out_dir: str | Path = ".",
        *,
        overwrite: bool = False,
        max_credits: int | None = None,
        timeout: float | None = 600.0,
    ) -> FinishedResult:
        """Enhance one file or URL; returns the result, raises its error if it failed."""
        async for result in self.enhance_many(
            [source],
            options,
            out_dir,
            overwrite=overwrite,
            max_credits=max_credits,
            timeout=timeout,
        ):
            return FinishedResult.of(result)  # raises the item's error if it failed
        raise ViesusError("no result")  # pragma: no cover - one source gives one result

    async def enhance_many(
        self,
        sources: Iterable[str | Path],
        options: EnhanceOptions | None = None,
        out_dir: str | Path = ".",
        *,
        journal: str | Path | Journal | None = None,
        overwrite: bool = False,
        max_credits: int | None = None,
        timeout: float | None = 900.0,
    ) -> AsyncGenerator[EnhanceResult, None]:
        """One result per source, as they complete (see :mod:`viesus._pipeline`).

        Raises before anything is spent when the options are invalid or the estimated credits
        exceed ``max_credits`` or the account's remaining credits.
        """
        options = options if options is not None else EnhanceOptions()
        validate_options(options)
        owned = journal is not None and not isinstance(journal, Journal)
        opened = (
            Journal.open(journal)
            if owned and journal is not None and not isinstance(journal, Journal)
            else journal
        )
        assert opened is None or isinstance(opened, Journal)
        pipeline = Pipeline(
            self,
            options,
            Path(out_dir),
            journal=opened,
            overwrite=overwrite,
            max_credits=max_credits,
            timeout=timeout,
        )
        try:
            # aclosing: an abandoned batch stops its tasks *before* the journal closes.
            async with contextlib.aclosing(pipeline.run(list(sources))) as results:
                async for result in results:
                    yield result
        finally:
            if owned and opened is not None:
                opened.close()

    # --- webhooks ---------------------------------------------------------------------------
    async def register_webhook(self, url: str, *, replace: bool = False) -> RegisteredWebhook:
        """Register ``url`` (at most 5 per account); keep the returned secret, shown only once.

        Pass the secret to :meth:`webhook_receiver` in the app that serves ``url``.
        """
        return await self._call(register_webhook(self.api, url, replace=replace))

    async def remove_webhook(self, webhook_id: str) -> bool:
        """Delete a webhook; ``False`` if there was none with that id."""
        return await self._call(remove_webhook(self.api, webhook_id))

    def webhook_receiver(self, secrets: str | list[str]) -> WebhookReceiver:
        """An ASGI app to mount in your web app: verified deliveries resolve waits at once.

        While one exists, polling slows to the schedule's safety interval.
        """
        self._webhook_receivers += 1
        return WebhookReceiver(secrets, self._on_webhook)

    def _on_webhook(self, event: WebhookEvent) -> None:
        fields = event.as_enhanced_image()
        if fields is not None:
            self.poller.resolve(Job.from_fragment(fields))
        elif event.job_id is not None and event.raw_status is not None:
            self.poller.resolve(Job(id=event.job_id, status=event.raw_status))

    @contextlib.asynccontextmanager
    async def listen_for_webhooks(
        self, *, host: str = "127.0.0.1", port: int = 0, public_url: str | None = None
    ) -> AsyncIterator[RegisteredWebhook]:
        """Start a listener, register it as a webhook, resolve waits from deliveries.

        ``public_url`` is the address the service can reach (a tunnel, a public host); by
        default the listener's own URL, which only a local emulator can reach. The webhook is
        removed again on exit.
        """
        receiver = self.webhook_receiver([])
        try:
            async with WebhookListener(receiver, host=host, port=port) as listener:
                registered = await register_webhook(
                    self.api, public_url or listener.url, replace=True
                )
                receiver.set_secrets(registered.secret.get_secret_value())
                try:
                    yield registered
                finally:
                    with contextlib.suppress(Exception):
                        await remove_webhook(self.api, registered.id)
        finally:
            self._webhook_receivers -= 1

    async def _call(self, awaitable: Awaitable[T]) -> T:
        """Await a generated-client call, turning its raw errors into typed ones."""
        try:
            return await awaitable
        except ViesusError:
            raise
        except Exception as exc:
            raise map_error(exc) from None
