"""A worker process for the soak (``tests/soak/soak.py``): one batch through the public facade.

It enhances every file named on the command line into ``--out`` with a journal, and prints one
JSON line per result, flushed at once, so the soak can kill it (``kill -9``) at any moment and
still know what it reported. Only the public ``viesus`` API is used, as an application would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from viesus import AsyncViesus, EnhanceOptions, PollSchedule, RetryPolicy

FAST_POLL = PollSchedule(first=0.05, factor=1.5, cap=0.5, jitter=0.2, error_backoff=0.05)
FAST_RETRY = RetryPolicy(max_attempts=5, base=0.02, cap=0.2, max_retry_after=2.0)


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--journal", type=Path, required=True)
    parser.add_argument("--options", default="{}", help="EnhanceOptions as GraphQL JSON")
    parser.add_argument("--batch-size", type=int, default=25)
    parser.add_argument("sources", nargs="+")
    args = parser.parse_args(argv)
    options = EnhanceOptions.model_validate(json.loads(args.options))
    async with AsyncViesus(
        api_key=args.key,
        endpoint=args.endpoint,
        retry=FAST_RETRY,
        poll_schedule=FAST_POLL,
        batch_size=args.batch_size,
    ) as viesus:
        async for result in viesus.enhance_many(
            args.sources, options, args.out, journal=args.journal, timeout=120.0
        ):
            line = {
                "source": result.source,
                "status": result.status,
                "output": str(result.output_path) if result.output_path else None,
                "credits": result.credits,
                "reason": result.reason,
            }
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
