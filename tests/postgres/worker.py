"""One batch worker as its own process, for the multi-worker tests: the public facade only.

``python -m tests.postgres.worker SPEC.json``: the spec names the endpoint, the journal DSN,
the batch, the sources and the lease times. Prints one JSON line per result, then a summary
line (``{"done": N}``). Warnings (a journal outage, a lost lease) go to stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from viesus import AsyncViesus, EnhanceOptions, LeaseTimes, PollSchedule, RetryPolicy, SharedBatch

FAST_POLL = PollSchedule(first=0.05, factor=1.5, cap=0.3, jitter=0.2, error_backoff=0.05)
FAST_RETRY = RetryPolicy(max_attempts=5, base=0.02, cap=0.2, max_retry_after=2.0)


async def work(spec: dict[str, Any]) -> None:
    batch = SharedBatch(
        spec["batch"],
        lease=LeaseTimes(*spec["lease"]),
        claim_size=spec["claim_size"],
        lanes=spec.get("lanes", 2),
        worker_id=spec["worker"],
        outage_limit=spec.get("outage_limit", 60.0),
    )
    results = 0
    async with AsyncViesus(
        api_key=spec["api_key"],
        endpoint=spec["endpoint"],
        poll_schedule=FAST_POLL,
        retry=FAST_RETRY,
        batch_size=spec.get("batch_size", 5),
    ) as client:
        async for result in client.enhance_many(
            spec["sources"],
            EnhanceOptions.model_validate(spec["options"]),
            Path(spec["out_dir"]),
            journal=spec["dsn"],
            batch=batch,
            max_credits=spec.get("max_credits"),
        ):
            results += 1
            line = {
                "worker": spec["worker"],
                "source": result.source,
                "status": result.status,
                "job_id": result.job_id,
                "reason": result.reason,
            }
            print(json.dumps(line), flush=True)
    print(json.dumps({"worker": spec["worker"], "done": results}), flush=True)


if __name__ == "__main__":
    asyncio.run(work(json.loads(Path(sys.argv[1]).read_text())))
