"""``python -m tests.postgres.stalled_cli enhance …``: the ``viesus`` command line, as a worker
that stops itself (``SIGSTOP``) once, right before its first create batch leaves.

It passes ``SharedBatch(before_create=…)`` (called in the worker thread after the create intent
is durable, before the lease check), so a test can hold it there past its lease and resume it
with ``SIGCONT`` (test_cli_workers.py). The runtime code has no such hook of its own.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
from typing import Any

from viesus import AsyncViesus, SharedBatch
from viesus._cli import main

log = logging.getLogger("tests.postgres.stalled_cli")
_stopped = threading.Event()


def stop_once(sources: list[str]) -> None:
    if _stopped.is_set():
        return
    _stopped.set()
    log.warning("stopping before a create of %d item(s) (test worker)", len(sources))
    # To this very thread: it takes the stop on its way back from the call (a signal to the
    # process may be taken by another thread while this one runs on a little).
    signal.pthread_kill(threading.get_ident(), signal.SIGSTOP)


_enhance_many = AsyncViesus.enhance_many


def enhance_many(self: AsyncViesus, *args: Any, **kwargs: Any) -> Any:
    batch = kwargs.get("batch")
    if isinstance(batch, SharedBatch):
        kwargs["batch"] = dataclasses.replace(batch, before_create=stop_once)
    return _enhance_many(self, *args, **kwargs)


if __name__ == "__main__":
    AsyncViesus.enhance_many = enhance_many  # type: ignore[method-assign]
    main()
