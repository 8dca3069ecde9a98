"""The test's own wrapper of the example web app, run in a subprocess: the example's app over a
client of ``VIESUS_ENDPOINT``, with test-only hooks that kill the process (SIGKILL, like
``kill -9``) at a chosen moment. The hooks live here, never in runtime code.

``python -m tests.webapp.served_app --port N [--max-bytes B] [--kill before-create|after-create]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal

import httpx
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from examples.webapp.app import build_app
from viesus import AsyncViesus, PollSchedule


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillBeforeCreate:
    """The page's "enhance" request arrives (its PUT is done): die before anything is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope["path"]).endswith("/enhance"):
            die()
        await self.app(scope, receive, send)


class KillAfterCreate(httpx.AsyncBaseTransport):
    """The create reached the service and ran; die before its answer is read."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if b"CreateEnhancedImages" in request.content:
            await response.aread()
            die()
        return response


async def main(port: int, max_bytes: int | None, kill: str | None) -> None:
    transport = KillAfterCreate() if kill == "after-create" else None
    schedule = PollSchedule().scaled(0.05)
    async with AsyncViesus(transport=transport, poll_schedule=schedule) as client:
        app: ASGIApp = build_app(client, public_url=f"http://127.0.0.1:{port}", max_bytes=max_bytes)
        if kill == "before-create":
            app = KillBeforeCreate(app)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
        )
        await uvicorn.Server(config).serve()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-bytes", type=int)
    parser.add_argument("--kill", choices=["before-create", "after-create"])
    args = parser.parse_args()
    asyncio.run(main(args.port, args.max_bytes, args.kill))
