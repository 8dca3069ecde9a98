"""A second local HTTP server for emulator tests: serves files and receives webhooks.

It plays the outside world: the public URL ``createUploadFromUrl`` fetches, the background
image, and the webhook receiver (which verifies nothing itself; tests check the recorded
requests with their own HMAC).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Peer:
    base_url: str = ""
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    #: Status codes the webhook receiver answers, in order; 200 once empty.
    hook_statuses: deque[int] = field(default_factory=deque)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    #: Paths of every GET the peer answered (files and redirects), in order.
    fetched: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def add_file(self, name: str, data: bytes, content_type: str = "image/jpeg") -> str:
        self.files[name] = (data, content_type)
        return self.url(f"files/{name}")

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received


def _app(peer: Peer) -> Starlette:
    async def serve_file(request: Request) -> Response:
        peer.fetched.append(request.url.path)
        item = peer.files.get(request.path_params["name"])
        if item is None:
            return Response(status_code=404)
        return Response(item[0], media_type=item[1])

    async def hook(request: Request) -> Response:
        body = await request.body()
        peer.received.append(Received(request.url.path, dict(request.headers), body))
        peer.arrived.set()
        status = peer.hook_statuses.popleft() if peer.hook_statuses else 200
        return Response(status_code=status)

    async def trickle(request: Request) -> Response:
        """A body that keeps coming, a chunk every 0.1 s for 5 s: no single read times out."""
        peer.fetched.append(request.url.path)

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(50):
                yield b"x" * 10
                await asyncio.sleep(0.1)

        return StreamingResponse(chunks(), media_type="image/jpeg")

    async def redirect(request: Request) -> Response:
        """``/redirect?to=URL``: a 302 to any URL (the hop the URL policy must re-check)."""
        peer.fetched.append(request.url.path)
        return Response(status_code=302, headers={"location": request.query_params["to"]})

    return Starlette(
        routes=[
            Route("/files/{name}", serve_file, methods=["GET"]),
            Route("/redirect", redirect, methods=["GET"]),
            Route("/trickle", trickle, methods=["GET"]),
            Route("/hooks/{name}", hook, methods=["POST"]),
        ]
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def]
        yield


@contextlib.asynccontextmanager
async def running_peer() -> AsyncIterator[Peer]:
    peer = Peer()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    peer.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        _app(peer), log_config=None, log_level="warning", lifespan="off", access_log=False
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.005)
    try:
        yield peer
    finally:
        server.should_exit = True
        await task
        sock.close()
