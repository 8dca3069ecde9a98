"""The benchmark's server side: the emulator behind a counting proxy.

``python -m benchmarks.server --workers 16 --time-scale 0.01 --images DIR`` runs both in this
process (the harness ``--harness inprocess``); ``python -m benchmarks.server --target URL
--port N`` runs the proxy alone in front of an emulator in another process (``viesus serve``,
the default harness, see :mod:`benchmarks.outside`). Either prints one JSON line
(``{"endpoint": ..., "base": ...}``) and serves until stdin closes. Every request a client sends,
GraphQL POSTs, signed-upload PUTs and result downloads alike, goes through the proxy (the
emulator's ``public_base_url`` points at it), which counts them by kind; the client under test
counts nothing. Also served, not counted as client traffic:

- ``GET /bench/images/NAME``: the source images of URL uploads (in-process harness only; the
  outside harness serves them with ``python -m http.server`` in a process of its own);
- ``GET /bench/counts``: the proxy's counts, the emulator's ``GET /stats`` and every job's
  created, started and finished times (epoch seconds, from ``/stats``), to compute makespan
  and detection lag.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from viesus_emulator import Emulator, EmulatorConfig
from viesus_emulator._serving import Serving, bind_socket

KEY = "bench"
HOP_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})

Scope = dict[str, Any]
Receive = Any
Send = Any


class CountingProxy:
    """ASGI forwarder to the emulator that counts each request by kind."""

    def __init__(self, target: str, images: Path | None) -> None:
        self.images = images
        self.counts: Counter[str] = Counter()
        # Straight to the emulator's own port (its base_url is the public one: this proxy).
        # Idle connections are dropped before uvicorn's 5 s keep-alive ends, so a forward never
        # lands on a connection the emulator is closing.
        limits = httpx.Limits(max_keepalive_connections=64, keepalive_expiry=2.0)
        self.http = httpx.AsyncClient(base_url=target, trust_env=False, timeout=120, limits=limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith("/bench/"):
            await self._bench(path, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        method: str = scope["method"]
        self.counts[_kind(method, path)] += 1
        headers = [
            (k.decode(), v.decode())
            for k, v in scope["headers"]
            if k.decode().lower() not in HOP_HEADERS
        ]
        query = scope.get("query_string", b"").decode()
        url = path + ("?" + query if query else "")
        try:
            answer = await self.http.request(method, url, content=body, headers=headers)
        except httpx.HTTPError as exc:  # the client sees a 502 (and may retry); counted
            self.counts["proxy error"] += 1
            await _respond(send, 502, type(exc).__name__.encode(), b"text/plain")
            return
        await send(
            {
                "type": "http.response.start",
                "status": answer.status_code,
                "headers": [
                    (k.encode(), v.encode())
                    for k, v in answer.headers.items()
                    if k.lower() not in HOP_HEADERS
                ]
                + [(b"content-length", str(len(answer.content)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": answer.content})

    async def _bench(self, path: str, send: Send) -> None:
        status, body, kind = 404, b"not found", b"text/plain"
        if path == "/bench/counts":
            snapshot = await self.snapshot()
            status, body, kind = 200, json.dumps(snapshot).encode(), b"application/json"
        elif path.startswith("/bench/images/") and self.images is not None:
            file = self.images / Path(path).name
            if file.is_file():
                status, body, kind = 200, file.read_bytes(), b"image/jpeg"
        await _respond(send, status, body, kind)

    async def snapshot(self) -> dict[str, Any]:
        answer = await self.http.get("/stats")
        answer.raise_for_status()
        stats: dict[str, Any] = answer.json()
        jobs = [{"id": job_id, **times} for job_id, times in stats["jobs"].pop("times", {}).items()]
        return {"proxy": dict(self.counts), "emulator": stats, "jobs": jobs}


async def _respond(send: Send, status: int, body: bytes, kind: bytes) -> None:
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _kind(method: str, path: str) -> str:
    if path.endswith("/graphql"):
        return "graphql"
    if method == "PUT":
        return "put"
    if method == "GET":
        return "download"
    return f"other {method}"


async def serve(workers: int, time_scale: float, images: Path | None) -> None:
    """Emulator and proxy in this process (``--harness inprocess``)."""
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    config = EmulatorConfig(
        api_keys=(KEY,),
        time_scale=time_scale,
        workers=workers,
        credits=10**8,
        public_base_url=base,
        allow_private_urls=True,  # URL sources are served by this proxy on 127.0.0.1
        webhook_retry_delays=(0.2, 0.5, 1.0),
    )
    async with Emulator(config) as emulator:
        await _proxy(sock, f"http://127.0.0.1:{emulator.port}", images)


async def _proxy(sock: socket.socket, target: str, images: Path | None) -> None:
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    proxy = CountingProxy(target, images)
    serving = await Serving.start_on(sock, proxy, name="benchmark proxy")
    try:
        print(json.dumps({"endpoint": f"{base}/graphql", "base": base}), flush=True)
        await asyncio.to_thread(sys.stdin.read)  # until the orchestrator closes stdin
    finally:
        await serving.stop()
        await proxy.http.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.server")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--time-scale", type=float, default=0.01)
    parser.add_argument("--images", type=Path, default=None)
    parser.add_argument("--target", default=None, help="proxy only, to this emulator base URL")
    parser.add_argument("--port", type=int, default=0, help="with --target: the proxy's port")
    args = parser.parse_args()
    if args.target is not None:
        sock = bind_socket("127.0.0.1", args.port)
        asyncio.run(_proxy(sock, args.target.rstrip("/"), args.images))
    else:
        asyncio.run(serve(args.workers, args.time_scale, args.images))


if __name__ == "__main__":
    main()
