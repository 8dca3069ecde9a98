"""The web app: one page, the browser PUTs each photo itself, the server enhances it.

Routes: ``GET /`` (the page), ``POST /api/uploads`` (checks the file, returns the signed URL
and headers for the page's PUT), ``POST /api/uploads/{id}/enhance`` (after the PUT: one job,
adopted if the upload has one already), ``GET /api/events`` (server-sent events: each job's
state), ``GET /api/credits``, ``POST /webhooks`` (the toolkit's webhook receiver: a delivery
makes the client read that job at once; polling is the safety net).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from viesus import (
    AsyncViesus,
    EnhanceOptions,
    InsufficientCredits,
    LimitExceeded,
    UnsupportedUpload,
    UploadFailed,
    UploadJob,
    UploadTooLarge,
    ViesusError,
)

log = logging.getLogger("examples.webapp")
PAGE = Path(__file__).with_name("index.html")
OPTIONS = EnhanceOptions(upscaling_factor="X2")


def in_words(exc: ViesusError) -> dict[str, str]:
    """What the page shows: a kind (for styling) and the toolkit's own sentence."""
    if isinstance(exc, UploadFailed) and exc.service_reason:  # the service said why
        kind = "refused by the service"
    elif isinstance(exc, LimitExceeded | UploadTooLarge):
        kind = "too large"
    elif isinstance(exc, UnsupportedUpload):
        kind = "wrong type"
    elif isinstance(exc, InsufficientCredits):
        kind = "out of credits"
    else:
        kind = "refused by the service"
    return {"kind": kind, "error": str(exc)}


class Events:
    """Server-sent events to every open page (a queue each)."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[dict[str, Any]]] = set()

    def publish(self, event: dict[str, Any]) -> None:
        for queue in self.queues:
            queue.put_nowait(event)

    async def stream(self) -> AsyncIterator[str]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.queues.add(queue)
        try:
            yield ": connected\n\n"
            while True:
                yield f"data: {json.dumps(await queue.get())}\n\n"
        finally:
            self.queues.discard(queue)


def build_app(
    client: AsyncViesus, *, public_url: str, max_bytes: int | None = None, timeout: float = 600
) -> Starlette:
    """The app over ``client``; ``public_url`` is where the service can reach ``/webhooks``."""
    events = Events()
    receiver = client.webhook_receiver([])  # its secret arrives with the registration
    watching: set[asyncio.Task[None]] = set()

    async def page(_: Request) -> Response:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    async def create_upload(request: Request) -> Response:
        body = await request.json()
        try:
            upload = await client.create_browser_upload(
                str(body.get("filename", "")),
                int(body.get("size", 0)),
                str(body.get("mimetype", "")),
                max_bytes=max_bytes,
            )
        except ViesusError as exc:
            return JSONResponse(in_words(exc), status_code=422)
        return JSONResponse(
            {"uploadId": upload.upload_id, "url": upload.url, "headers": upload.headers}
        )

    async def enhance(request: Request) -> Response:
        upload_id = request.path_params["upload_id"]
        try:
            made = await client.enhance_upload(upload_id, OPTIONS)
        except ViesusError as exc:
            return JSONResponse(in_words(exc), status_code=422)
        task = asyncio.create_task(watch(made))
        watching.add(task)
        task.add_done_callback(watching.discard)
        return JSONResponse(
            {
                "uploadId": upload_id,
                "jobId": made.job.id,
                "status": made.job.status,
                "adopted": made.adopted,
                "credits": made.credits,
            }
        )

    async def watch(made: UploadJob) -> None:
        """The job's end, read at once when a webhook hints it (else by the poller)."""
        base = {"uploadId": made.upload_id, "jobId": made.job.id, "credits": made.credits}
        events.publish({**base, "status": made.job.status})
        try:
            job = await client.wait_job(made.job.id, timeout)
        except ViesusError as exc:
            events.publish({**base, "status": "ERROR", **in_words(exc)})
            return
        if job.finished:
            events.publish({**base, "status": job.status, "resultUrl": job.full_url})
        else:
            error = f"the service could not enhance it ({job.error_code}); nothing was charged"
            events.publish({**base, "status": job.status, "kind": "failed", "error": error})

    async def stream(_: Request) -> Response:
        return StreamingResponse(
            events.stream(),
            media_type="text/event-stream",
            headers={"cache-control": "no-store"},
        )

    async def credits(_: Request) -> Response:
        try:
            account = await client.credits()
        except ViesusError as exc:
            return JSONResponse(in_words(exc), status_code=502)
        return JSONResponse(
            {
                "used": account.used_credits_this_period,
                "remaining": account.remaining_credits_this_period,
            }
        )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        hook = await client.register_webhook(public_url.rstrip("/") + "/webhooks", replace=True)
        receiver.set_secrets(hook.secret.get_secret_value())
        try:
            yield
        finally:
            for task in list(watching):
                task.cancel()
            await asyncio.gather(*watching, return_exceptions=True)
            with contextlib.suppress(ViesusError):
                await client.remove_webhook(hook.id)

    return Starlette(
        routes=[
            Route("/", page),
            Route("/api/uploads", create_upload, methods=["POST"]),
            Route("/api/uploads/{upload_id}/enhance", enhance, methods=["POST"]),
            Route("/api/events", stream),
            Route("/api/credits", credits),
            Route("/webhooks", receiver, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
