"""``Viesus``: the synchronous client, for scripts, notebooks and web views.

The same methods and arguments as :class:`viesus.AsyncViesus`, which does the work: every
call runs on the client's private event loop in a background thread (:mod:`viesus._loop_thread`),
so it works where a loop already runs (Jupyter, an async framework) and keeps one connection
pool and one poller across calls. Thread-safe: any number of threads may share one client
(their calls are tasks on that one loop). Closed by ``with``, :meth:`close`, or at exit.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import AsyncGenerator, Awaitable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Self, TypeVar

import httpx

from viesus._client import DEFAULT_TIMEOUT, AsyncViesus, Options
from viesus._loop_thread import LoopThread
from viesus._polling import PollSchedule
from viesus._redact import redact_url
from viesus._retries import RetryPolicy

if TYPE_CHECKING:
    from viesus._browser_uploads import BrowserUpload, UploadJob
    from viesus._jobs import Job
    from viesus._journal.store import JournalStore
    from viesus._pdf import PdfAnalysis
    from viesus._plans import BatchPlan
    from viesus._results import EnhanceResult, FinishedResult
    from viesus._shared_batch import SharedBatch
    from viesus._webhooks.receiver import WebhookReceiver
    from viesus._webhooks.registration import RegisteredWebhook
    from viesus._webhooks.signature import WebhookEvent
    from viesus_client.client import ViesusApiClient
    from viesus_client.fragments import CreditsFields

T = TypeVar("T")

__all__ = ["Viesus"]


class Viesus:
    """Synchronous client for VIESUS Cloud (or the local emulator); see :class:`AsyncViesus`
    for the arguments. ``enhance_many`` is a plain iterator that yields results as they
    arrive; ``progress=True`` shows a bar (a terminal or a notebook)."""

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
        # Built here (its asyncio primitives bind to a loop on first use, on the client's).
        self._client = AsyncViesus(
            api_key,
            endpoint,
            timeout=timeout,
            retry=retry,
            batch_size=batch_size,
            poll_batch_size=poll_batch_size,
            poll_schedule=poll_schedule,
            upload_concurrency=upload_concurrency,
            download_concurrency=download_concurrency,
            transport=transport,
        )
        self._loop = LoopThread()
        self._finalizer = weakref.finalize(self, _shut_down, self._loop, self._client)

    def __repr__(self) -> str:
        return f"Viesus(endpoint={redact_url(self.endpoint)!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections and stop the client's loop (again: nothing happens)."""
        self._finalizer()

    @property
    def endpoint(self) -> str:
        return self._client.endpoint

    @property
    def api(self) -> ViesusApiClient:
        """The generated typed client (async) on the same connection: ``v.run(v.api.…())``."""
        return self._client.api

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run ``awaitable`` (e.g. a call of :attr:`api`) on the client's loop; its result."""

        async def awaited() -> T:
            return await awaitable

        return self._loop.call(awaited())

    # --- the client's methods, synchronously ----------------------------------------------------
    def credits(self) -> CreditsFields:
        return self._loop.call(self._client.credits())

    def remaining_credits(self) -> int:
        return self._loop.call(self._client.remaining_credits())

    def wait(self, job_id: str, timeout: float | None = 300.0) -> Job:
        return self._loop.call(self._client.wait(job_id, timeout))

    def enhance(
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
        """:meth:`AsyncViesus.enhance`: one file or URL, its result, or its error raised."""
        work = self._client.enhance(
            source,
            options,
            out_dir,
            overwrite=overwrite,
            max_credits=max_credits,
            timeout=timeout,
            downscale=downscale,
        )
        return self._loop.call(work)

    def enhance_many(
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
        progress: bool = False,
    ) -> Iterator[EnhanceResult]:
        """:meth:`AsyncViesus.enhance_many` as an iterator, each result as it arrives.
        Leaving the loop early (``break``, an exception, Ctrl-C) stops the batch the safe way:
        jobs in flight stay in the journal; a rerun with it pays nothing twice."""
        listed = list(sources)
        stream = self._client.enhance_many(
            listed,
            options,
            out_dir,
            journal=journal,
            batch=batch,
            overwrite=overwrite,
            max_credits=max_credits,
            timeout=timeout,
            root=root,
            downscale=downscale,
        )
        results = self._iterate(stream)
        if not progress:
            return results
        from viesus._progress import with_progress

        return with_progress(results, len(listed))

    def plan_many(
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
        """:meth:`AsyncViesus.plan_many`: what ``enhance_many`` would do; nothing is sent."""
        work = self._client.plan_many(
            sources,
            options,
            out_dir,
            journal=journal,
            overwrite=overwrite,
            root=root,
            downscale=downscale,
        )
        return self._loop.call(work)

    def analyze_pdf(self, source: str | Path, *, timeout: float = 600.0) -> PdfAnalysis:
        return self._loop.call(self._client.analyze_pdf(source, timeout=timeout))

    def enhance_pdf(
        self,
        source: str | Path,
        options: Options = None,
        out_dir: str | Path = ".",
        *,
        max_credits: int | None = None,
        overwrite: bool = False,
        timeout: float | None = 900.0,
    ) -> EnhanceResult:
        work = self._client.enhance_pdf(
            source, options, out_dir, max_credits=max_credits, overwrite=overwrite, timeout=timeout
        )
        return self._loop.call(work)

    def register_webhook(self, url: str, *, replace: bool = False) -> RegisteredWebhook:
        return self._loop.call(self._client.register_webhook(url, replace=replace))

    def remove_webhook(self, webhook_id: str) -> bool:
        return self._loop.call(self._client.remove_webhook(webhook_id))

    def webhook_receiver(self, secrets: str | list[str]) -> WebhookReceiver:
        """An ASGI app for your web app; its deliveries reach this client's loop safely."""
        from viesus._webhooks.receiver import WebhookReceiver

        loop, client = self._loop.loop, self._client

        def hint(event: WebhookEvent) -> None:
            loop.call_soon_threadsafe(client._on_webhook, event)

        return WebhookReceiver(secrets, hint)

    @contextlib.contextmanager
    def listen_for_webhooks(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url: str | None = None,
        name: str = "default",
    ) -> Iterator[RegisteredWebhook]:
        """:meth:`AsyncViesus.listen_for_webhooks`, the listener on the client's loop."""
        manager = self._client.listen_for_webhooks(
            host=host, port=port, public_url=public_url, name=name
        )
        registered = self._loop.call(manager.__aenter__())
        try:
            yield registered
        except BaseException as exc:
            if not self._loop.call(manager.__aexit__(type(exc), exc, exc.__traceback__)):
                raise
        else:
            self._loop.call(manager.__aexit__(None, None, None))

    def create_browser_upload(
        self, filename: str, size: int, mimetype: str | None, *, max_bytes: int | None = None
    ) -> BrowserUpload:
        return self._loop.call(
            self._client.create_browser_upload(filename, size, mimetype, max_bytes=max_bytes)
        )

    def enhance_upload(
        self, upload_id: str, options: Options = None, *, wait: bool = False, timeout: float = 600.0
    ) -> UploadJob:
        return self._loop.call(
            self._client.enhance_upload(upload_id, options, wait=wait, timeout=timeout)
        )

    def _iterate(self, stream: AsyncGenerator[T, None]) -> Iterator[T]:
        """The async generator stepped on the loop, one item a call; closed on the way out."""
        try:
            while True:
                try:
                    yield self._loop.call(_next(stream))
                except StopAsyncIteration:
                    return
        finally:
            if self._loop.running:
                self._loop.call(stream.aclose())


async def _next(stream: AsyncGenerator[T, None]) -> T:
    return await anext(stream)


def _shut_down(loop: LoopThread, client: AsyncViesus) -> None:
    """Close the client on its loop, then stop the loop (by ``close()`` or at exit)."""
    if loop.running:
        with contextlib.suppress(Exception):
            loop.call(client.aclose())
        loop.stop()
