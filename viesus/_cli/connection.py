"""Open a ``AsyncViesus`` client for a command: against the configured endpoint, or ``--local``.

``--local`` starts the emulator in this process on a free 127.0.0.1 port (its processing time
scaled down so a demo takes seconds) and points the client at it with the emulator's key: the
offline way to try every command. It needs the ``emulator`` extra; without it the command
fails with one line naming the install command.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from viesus import AsyncViesus
from viesus._cli.errors import UsageProblem, missing_extra
from viesus._cli.settings import api_key_from, endpoint_from

LOCAL_TIME_SCALE = 0.02  # the modelled 2-180 s per job becomes 0.04-3.6 s
LOCAL_CREDITS = 1000


@dataclass(frozen=True)
class Target:
    """Where a command talks to, as given on the command line."""

    api_key: str | None = None
    endpoint: str | None = None
    local: bool = False


@contextlib.asynccontextmanager
async def _local_emulator() -> AsyncIterator[str]:
    try:
        from viesus_emulator import Emulator, EmulatorConfig
    except ModuleNotFoundError as exc:
        problem = missing_extra(exc, "--local")
        if problem is None:
            raise
        raise problem from None
    config = EmulatorConfig(
        api_keys=("local",),
        port=0,
        time_scale=LOCAL_TIME_SCALE,
        credits=LOCAL_CREDITS,
        access_log=False,
    )
    async with Emulator(config) as emulator:
        yield emulator.endpoint


@contextlib.asynccontextmanager
async def connect(
    target: Target, *, configured_endpoint: str | None = None, batch_size: int = 50
) -> AsyncIterator[AsyncViesus]:
    """A connected client (and the local emulator behind it with ``--local``)."""
    async with contextlib.AsyncExitStack() as stack:
        if target.local:
            endpoint = await stack.enter_async_context(_local_emulator())
        else:
            endpoint = endpoint_from(target.endpoint, configured_endpoint)
        key = api_key_from(target.api_key, target.local)
        if not key:
            raise UsageProblem(
                "no API key: set VIESUS_API_KEY or pass --api-key "
                "(or use --local to run against an in-process emulator)"
            )
        client = await stack.enter_async_context(
            AsyncViesus(api_key=key, endpoint=endpoint, batch_size=batch_size)
        )
        yield client
