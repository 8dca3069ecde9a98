"""What a pipeline needs from the client: the :class:`PipelineClient` protocol."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import httpx

from viesus._aliased_requests import BatchSize
from viesus._jobs import Job
from viesus._polling import Poller
from viesus._retries import RetryPolicy
from viesus_client import ViesusApiClient


class PipelineClient(Protocol):
    """What a pipeline needs from the client (implemented by :class:`viesus.AsyncViesus`)."""

    api: ViesusApiClient
    http: httpx.AsyncClient
    batch: BatchSize
    signed_batch: BatchSize  # the signed-upload steps (free): a wave per request
    retry_policy: RetryPolicy
    poller: Poller
    upload_concurrency: int
    download_concurrency: int
    adopted: int

    async def remaining_credits(self) -> int: ...

    async def wait_job(self, job_id: str, timeout: float | None) -> Job: ...

    def watch_job(
        self, job_id: str, on_final: Callable[[Job | BaseException], None], timeout: float | None
    ) -> Callable[[], None]: ...
