"""``python -m benchmarks.http_floor``: what one httpx request costs this machine's CPU.

The floor under the facade's client CPU per image: every image costs at least one download
(URL sources) or a PUT and a download (local files), whatever the toolkit does around them.
A local HTTP/1.1 server (in threads of this process) answers a 6 KB body; the event loop's
thread CPU time (``time.thread_time``, the server's threads excluded) is measured over 500
keep-alive requests, 1 and 4 at a time, buffered and streamed as the facade streams results.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

BODY = os.urandom(6000)
REQUESTS = 500


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-length", str(len(BODY)))
        self.send_header("content-type", "image/jpeg")
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass


async def cpu_ms_per_request(url: str, concurrency: int, stream: bool) -> float:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
    async with httpx.AsyncClient(limits=limits) as client:
        gate = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with gate:
                if stream:
                    async with client.stream("GET", url) as response:
                        async for _ in response.aiter_bytes():
                            pass
                else:
                    await client.get(url)

        await asyncio.gather(*(one() for _ in range(20)))  # connections, imports
        started = time.thread_time()
        await asyncio.gather(*(one() for _ in range(REQUESTS)))
        return (time.thread_time() - started) * 1000 / REQUESTS


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/x.jpg"
    print("| requests at once | body | event-loop CPU per request |")
    print("|---:|---|---:|")
    for concurrency in (1, 4):
        for stream in (False, True):
            ms = asyncio.run(cpu_ms_per_request(url, concurrency, stream))
            kind = "streamed" if stream else "buffered"
            print(f"| {concurrency} | {kind} | {ms:.2f} ms |")
    server.shutdown()


if __name__ == "__main__":
    main()
