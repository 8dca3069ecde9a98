"""A private event loop in a background thread, for the synchronous client.

``asyncio.run`` fails where a loop already runs (a notebook, an async framework), and a loop
per call would lose the connection pool and the poller between calls. One loop in one thread
serves every call of a client, from any thread; Ctrl-C in the caller cancels the call's task
and waits for its clean-up (a batch leaves its journal intact) before it is re-raised.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from viesus._errors import ClientClosed

T = TypeVar("T")

# How long a cancelled call may take to clean up (stop its tasks, flush the journal).
CLEAN_UP_SECONDS = 30.0


class LoopThread:
    """An event loop running forever in a daemon thread until :meth:`stop`."""

    def __init__(self, name: str = "viesus-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self.loop.is_closed()

    def submit(self, work: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(work, self.loop)

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the loop and return its result, from any thread but the loop's.

        Interrupted while waiting (Ctrl-C, ``KeyboardInterrupt``): the work's task is
        cancelled and its clean-up awaited (at most :data:`CLEAN_UP_SECONDS`), then the
        interruption goes on."""
        if threading.current_thread() is self._thread:
            work.close()
            raise RuntimeError("a synchronous Viesus call from inside its own event loop")
        if not self.running:
            work.close()
            raise ClientClosed("the client is closed: make a new Viesus(...)")
        ended = threading.Event()
        tasks: list[asyncio.Task[Any]] = []

        async def watched() -> T:
            task = asyncio.current_task()
            assert task is not None
            tasks.append(task)
            try:
                return await work
            finally:
                ended.set()

        future = self.submit(watched())
        try:
            return future.result()
        except BaseException:
            if not future.done():
                self.loop.call_soon_threadsafe(_cancel, tasks, future, ended)
                ended.wait(CLEAN_UP_SECONDS)
            raise

    def stop(self) -> None:
        """Stop the loop; its thread closes it once the last callbacks have run."""
        if self.running:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()


def _cancel(
    tasks: list[asyncio.Task[Any]],
    future: concurrent.futures.Future[Any],
    ended: threading.Event,
) -> None:
    """On the loop: cancel the started task, or the call before it starts."""
    if tasks:
        tasks[0].cancel()
    else:
        future.cancel()
        ended.set()
