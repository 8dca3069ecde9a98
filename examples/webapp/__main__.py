"""``python -m examples.webapp [--port 8000]`` (``make webapp``): the web app, served by uvicorn.

Against ``VIESUS_ENDPOINT`` (and ``VIESUS_API_KEY``) when set; otherwise against an emulator
started in this process that allows this page's origin (CORS). The service must reach
``--public-url``/webhooks for webhook hints (polling works without them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

import uvicorn

from examples.webapp.app import build_app
from viesus import AsyncViesus


@contextlib.asynccontextmanager
async def service(origins: tuple[str, ...]) -> AsyncIterator[tuple[str, str]]:
    """(endpoint, key): ``VIESUS_ENDPOINT`` if set, else an in-process emulator."""
    endpoint = os.environ.get("VIESUS_ENDPOINT")
    if endpoint:
        yield endpoint, os.environ.get("VIESUS_API_KEY", "")
        return
    from viesus_emulator import Emulator, EmulatorConfig

    config = EmulatorConfig(time_scale=0.05, cors_origins=origins)
    async with Emulator(config) as emulator:
        print(f"emulator: {emulator.endpoint} (stats: {emulator.base_url}/stats)", flush=True)
        yield emulator.endpoint, emulator.api_key


async def main(host: str, port: int, public_url: str | None, max_bytes: int | None) -> None:
    url = public_url or f"http://{host}:{port}"
    origins = (f"http://127.0.0.1:{port}", f"http://localhost:{port}")
    async with service(origins) as (endpoint, key), AsyncViesus(key, endpoint) as client:
        app = build_app(client, public_url=url, max_bytes=max_bytes)
        # Open event streams never end by themselves: a stop waits 2 s for them, no longer.
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2
        )
        server = uvicorn.Server(config)
        print(f"web app: http://{host}:{port}/  (Ctrl-C to stop)", flush=True)
        await server.serve()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m examples.webapp")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--public-url", help="where the service reaches this app (webhooks)")
    parser.add_argument("--max-bytes", type=int, help="largest photo (default 100 MiB)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.host, args.port, args.public_url, args.max_bytes))
