"""Starting and stopping an emulator: ``async with Emulator(config) as emu`` or in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx

from viesus_emulator._app import AccessLog, build_app, install_log_filter
from viesus_emulator._config import EmulatorConfig, FaultConfig
from viesus_emulator._read_timeout import with_read_timeout
from viesus_emulator._retention import sweep_forever
from viesus_emulator._serving import Serving, bind_socket
from viesus_emulator._url_policy import UrlPolicy, guarded_client
from viesus_emulator._world import EmulatorState

T = TypeVar("T")

WILDCARD_HOSTS = {"", "0.0.0.0", "::"}  # noqa: S104 - only used to choose a display host


class Emulator:
    """A running local VIESUS Cloud. Use as ``async with Emulator(config) as emu``."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self._state: EmulatorState | None = None
        self._serving: Serving | None = None
        self._http: httpx.AsyncClient | None = None
        self._owned_dir: Path | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.port = 0

    def __repr__(self) -> str:
        where = self.endpoint if self._state else "not running"
        return f"Emulator({where})"

    # --- what a client needs --------------------------------------------------------------

    @property
    def state(self) -> EmulatorState:
        if self._state is None:
            raise RuntimeError("the emulator is not running")
        return self._state

    @property
    def base_url(self) -> str:
        return self.state.base_url

    @property
    def endpoint(self) -> str:
        """The GraphQL URL under ``base_url`` (through the public URL when one is set)."""
        return f"{self.base_url}/graphql"

    @property
    def local_url(self) -> str:
        """``http://HOST:PORT`` where the server itself listens (what a proxy forwards to)."""
        host = "127.0.0.1" if self.config.host in WILDCARD_HOSTS else self.config.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def api_key(self) -> str:
        """The first configured API key (what a test client sends)."""
        return self.config.api_keys[0]

    @property
    def faults(self) -> FaultConfig:
        return self.state.faults

    @faults.setter
    def faults(self, faults: FaultConfig) -> None:
        self.state.faults = faults

    def stats(self) -> dict[str, Any]:
        """The ``GET /stats`` document; safe to call from any thread."""
        return self._on_loop(self.state.stats_snapshot)

    # --- async lifecycle ------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._state is not None:
            raise RuntimeError("the emulator is already running")
        config = self.config
        self._loop = asyncio.get_running_loop()
        # Bound first: a busy port fails before anything else exists.
        sock = bind_socket(config.host, config.port)
        self.port = sock.getsockname()[1]
        try:
            data_dir = config.data_dir
            if data_dir is None:
                data_dir = self._owned_dir = Path(tempfile.mkdtemp(prefix="viesus-emulator-"))
            # Every outgoing request (URL uploads, backgrounds, webhooks) under the URL policy.
            policy = UrlPolicy.for_server(
                config.host, config.allow_private_urls, config.fetch_hosts
            )
            self._http = guarded_client(policy, config.max_redirects)
            state = EmulatorState(config, data_dir, self._http)
            display_host = "127.0.0.1" if config.host in WILDCARD_HOSTS else config.host
            if ":" in display_host:
                display_host = f"[{display_host}]"
            state.signer.base_url = (config.public_base_url or "").rstrip("/") or (
                f"http://{display_host}:{self.port}"
            )
            self._state = state
            app = build_app(state)
            install_log_filter()
            self._serving = await Serving.start_on(
                sock,
                AccessLog(app) if config.access_log else app,
                name="emulator's HTTP server",
                timeout_graceful_shutdown=2,
                timeout_keep_alive=config.keep_alive,
                http=with_read_timeout(config.read_timeout),
            )
        except BaseException:
            sock.close()
            await self.stop()
            raise
        state.workers.start()
        self._sweeper = asyncio.create_task(sweep_forever(state), name="viesus-retention")

    async def stop(self) -> None:
        """Stop serving, cancel workers and deliveries, remove the temporary data."""
        serving, self._serving = self._serving, None
        if serving is not None:
            await serving.stop()
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)
        if self._state is not None:
            await self._state.workers.aclose()
            await self._state.dispatcher.aclose()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._owned_dir is not None:
            await asyncio.to_thread(shutil.rmtree, self._owned_dir, True)
            self._owned_dir = None
        self._state = None

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until every job has ended and every webhook delivery is done."""
        async with asyncio.timeout(timeout):
            await self.state.workers.drain()
            await self.state.dispatcher.drain()

    # --- threaded lifecycle ---------------------------------------------------------------

    @contextlib.contextmanager
    def running_in_thread(self, startup_timeout: float = 30.0) -> Iterator[Self]:
        """Run in a background thread's event loop: ``with Emulator(c).running_in_thread()``.

        The thread never outlives this call: a start that fails or takes longer than
        ``startup_timeout`` is cancelled, and its thread joined, before the error is raised.
        """
        ready = threading.Event()
        failure: list[BaseException] = []
        stop: list[asyncio.Event] = []
        main_task: list[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = []

        async def main() -> None:
            task = asyncio.current_task()
            assert task is not None
            main_task.append((asyncio.get_running_loop(), task))
            stop.append(asyncio.Event())
            try:
                await self.start()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            try:
                await stop[0].wait()
            finally:
                await self.stop()

        def run() -> None:
            with contextlib.suppress(asyncio.CancelledError):
                asyncio.run(main())

        thread = threading.Thread(target=run, name="viesus-emulator", daemon=True)
        thread.start()
        if not ready.wait(startup_timeout):
            # Cancel the start (it cleans up after itself), then wait for the thread to end.
            if main_task:
                loop, task = main_task[0]
                loop.call_soon_threadsafe(task.cancel)
            thread.join()
            raise RuntimeError(f"the emulator did not start within {startup_timeout:g} s")
        if failure:
            thread.join()
            raise failure[0]
        try:
            yield self
        finally:
            running = self._loop
            if running is not None and stop:
                running.call_soon_threadsafe(stop[0].set)
            thread.join()

    def run_coroutine(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the emulator's loop from another thread (threaded variant)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _on_loop(self, fn: Callable[[], T]) -> T:
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop or not loop.is_running():
            return fn()

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(10)
