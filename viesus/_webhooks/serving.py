# The original; viesus_emulator/_serving.py is a deliberate copy (the emulator imports no viesus).
"""Serve an ASGI app with uvicorn inside the caller's event loop (emulator, webhook listener).

The socket is bound here, before uvicorn starts: a busy port raises a plain ``OSError``
(uvicorn itself would ``sys.exit``), ``port=0`` is known at once, and the socket is created
with ``IPPROTO_TCP`` so asyncio sets ``TCP_NODELAY`` on accepted connections (without it every
small response waits ~40 ms for Nagle + delayed ACK). uvicorn's signal handlers are off: the
host application owns Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn


def _embedded_server(config: uvicorn.Config) -> uvicorn.Server:
    """uvicorn without its signal handlers (uvicorn is imported here, when a server starts)."""
    import uvicorn

    class EmbeddedServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            yield

    return EmbeddedServer(config)


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class Serving:
    """One running server: ``await Serving.start(app, host, port)``, then ``await stop()``."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None], port: int) -> None:
        self.server = server
        self.task = task
        self.port = port

    @classmethod
    async def start(
        cls,
        app: Any,
        host: str,
        port: int,
        *,
        startup_timeout: float = 10.0,
        name: str = "server",
        **options: Any,
    ) -> Serving:
        """Bind, start serving, return once requests are accepted. ``options`` go to uvicorn."""
        sock = bind_socket(host, port)
        return await cls.start_on(sock, app, startup_timeout=startup_timeout, name=name, **options)

    @classmethod
    async def start_on(
        cls,
        sock: socket.socket,
        app: Any,
        *,
        startup_timeout: float = 10.0,
        name: str = "server",
        **options: Any,
    ) -> Serving:
        """Serve on a socket from ``bind_socket`` (closed if the server cannot start)."""
        import uvicorn

        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
            **options,
        )
        server = _embedded_server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name=name)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + startup_timeout
        host, port = sock.getsockname()[:2]
        try:
            while not server.started:
                if task.done() or loop.time() > deadline:
                    raise RuntimeError(f"the {name} could not start on {host}:{port}")
                await asyncio.sleep(0.005)
        except BaseException:
            server.should_exit = True
            with contextlib.suppress(BaseException):
                await task
            sock.close()
            raise
        return cls(server, task, int(port))

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, let in-flight requests finish (up to ``timeout``), release the port."""
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout=timeout)
        except TimeoutError:
            self.server.force_exit = True
            await self.task
        except Exception:  # noqa: S110 - a server that crashed while stopping is stopped
            pass
