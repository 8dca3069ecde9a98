"""``WebhookListener``: serve a receiver with uvicorn inside the current event loop.

For scripts and the CLI, which have no web app of their own to mount a receiver in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Self

from viesus._webhooks.receiver import Receive, Scope, Send
from viesus._webhooks.serving import Serving

__all__ = ["WebhookListener"]


class WebhookListener:
    """Serve an ASGI app (a ``WebhookReceiver``) with uvicorn inside the current event loop.

    ``port=0`` picks a free port; ``url`` is read back from the bound socket. uvicorn's logging
    configuration is not applied (``log_config=None``), so the host application's stays.
    ``async with WebhookListener(receiver) as listener: register(listener.url)``.
    """

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/",
        startup_timeout: float = 10.0,
    ) -> None:
        self._app = app
        self._host = host
        self._port_wanted = port
        self._path = path if path.startswith("/") else "/" + path
        self._startup_timeout = startup_timeout
        self._serving: Serving | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The bound port (only while running)."""
        if self._port is None:
            raise RuntimeError("the webhook listener is not running")
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port/path`` to register (behind a tunnel, register the public URL)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}{self._path}"

    async def start(self) -> None:
        """Bind the socket and start serving; returns once requests are being accepted."""
        self._serving = await Serving.start(
            self._app,
            self._host,
            self._port_wanted,
            startup_timeout=self._startup_timeout,
            name="viesus-webhook-listener",
        )
        self._port = self._serving.port

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish, release the port."""
        serving, self._serving = self._serving, None
        self._port = None
        if serving is not None:
            await serving.stop(self._startup_timeout)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
