"""N workers, one batch: wall time and requests per image for N = 1, 2, 3 (for SCALING.md).

``python -m benchmarks.shared_batch [--images 90] [--scale 0.01]``. Starts a throwaway
PostgreSQL (tests/pg_server.py) and one emulator; for each N, a fresh batch is drained by N
worker processes (tests/postgres/worker.py: the public facade, as on N machines) started
together. Requests are counted at the emulator (its stats), per operation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.facade.conftest import API_KEY, write_photo
from tests.pg_server import running_server
from viesus_emulator import Emulator, EmulatorConfig, FaultConfig

ROOT = Path(__file__).resolve().parents[1]


async def drain(
    endpoint: str,
    dsn: str,
    batch: str,
    sources: list[str],
    out_dir: Path,
    workers: int,
    kill_after: float | None = None,
) -> float:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(ROOT / "generated"), env.get("PYTHONPATH", "")]
    )
    processes = []
    started = time.monotonic()
    for n in range(workers):
        spec = out_dir.parent / f"{batch}-w{n}.json"
        spec.write_text(
            json.dumps(
                {
                    "api_key": API_KEY,
                    "endpoint": endpoint,
                    "dsn": dsn,
                    "batch": batch,
                    "worker": f"{batch}-w{n}",
                    "sources": sources,
                    "options": {"mode": "ENHANCE"},
                    "out_dir": str(out_dir),
                    # With a kill, a shorter lease: the dead worker's items return sooner.
                    "lease": [60.0, 10.0, 30.0] if kill_after is None else [10.0, 2.0, 5.0],
                    "claim_size": 10,
                    "batch_size": 10,
                }
            )
        )
        processes.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.postgres.worker",
                str(spec),
                cwd=ROOT,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
            )
        )
    if kill_after is not None:
        await asyncio.sleep(kill_after)
        processes[0].send_signal(signal.SIGKILL)  # mid-batch, wherever it is
    codes = [await p.wait() for p in processes]
    if kill_after is not None:
        codes = codes[1:]
    if any(codes):
        raise RuntimeError(f"a worker failed: exit codes {codes}")
    return time.monotonic() - started


async def measure(
    images: int,
    scale: float,
    counts: list[int],
    kill_after: float | None = None,
    latency: float = 0.0,
    size: int = 320,
) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, running_server() as server:
        folder = Path(tmp) / "in"
        folder.mkdir()
        sources = [
            str(write_photo(folder / f"p{i:03d}.jpg", (size, size * 3 // 4), seed=i))
            for i in range(images)
        ]
        for workers in counts:
            config = EmulatorConfig(
                api_keys=(API_KEY,),
                time_scale=scale,
                workers=16,
                credits=10**6,
                # A far-away service: every GraphQL request waits this long before handling.
                faults=FaultConfig(latency=latency, latency_rate=1.0 if latency else 0.0),
            )
            async with Emulator(config) as emulator:
                out_dir = Path(tmp) / f"out-{workers}"
                cpu_before = _children_cpu()
                commits_before = _commits(server.dsn)
                wall = await drain(
                    emulator.endpoint,
                    server.dsn,
                    f"n{workers}",
                    sources,
                    out_dir,
                    workers,
                    kill_after,
                )
                worker_cpu = _children_cpu() - cpu_before
                commits = _commits(server.dsn) - commits_before
                stats = emulator.stats()
            by_op = stats["requests"]["by_operation"]
            rows.append(
                {
                    "workers": workers,
                    "wall_s": round(wall, 1),
                    "jobs": stats["jobs"]["total"],
                    "duplicates": stats["jobs"]["duplicates"],
                    "outputs": sum(1 for p in out_dir.iterdir() if not p.name.startswith(".")),
                    "credits_charged": stats["credits"]["charged"],
                    "graphql_per_image": round(stats["requests"]["total"] / images, 2),
                    "worker_cpu_ms_per_image": round(worker_cpu * 1000 / images),
                    "journal_commits_per_image": round(commits / images, 1),
                    "by_operation": dict(sorted(by_op.items())),
                }
            )
    return rows


def _commits(dsn: str) -> int:
    """Transactions committed in the journal's database so far (the server's own count)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("SELECT pg_stat_clear_snapshot()")
        row = connection.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def _children_cpu() -> float:
    """CPU seconds (user + system) of the worker processes that ended so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=90)
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument(
        "--kill-after", type=float, default=None, help="kill -9 the first worker after S seconds"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--size", type=int, default=320, help="image width in pixels")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    rows = asyncio.run(
        measure(args.images, args.scale, counts, args.kill_after, args.latency, args.size)
    )
    kill = f", worker 0 killed after {args.kill_after} s" if args.kill_after else ""
    print(f"# {args.images} images of {args.size} px, time scale {args.scale}, request "
          f"latency {args.latency} s{kill}, {platform.platform()}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
