"""Bucket sources next to local files (issue 22): requests per image and image bytes the client
sends, 1,000 images by default.

The outside set-up of :mod:`benchmarks.outside` (``viesus serve``, the counting proxy, each
client in a process of its own) plus moto's S3 server (``moto_server``) holding the bucket.
The same JPEGs are enhanced twice with default settings: from a local folder into a folder,
and from ``s3://bench/in/`` into ``s3://bench/out/``. Requests are counted by the proxy in
front of the emulator; the bucket's own traffic (the emulator fetching presigned URLs, the
client streaming results into the destination) is not in them, and no image byte of a bucket
source passes the client. ``make bench-buckets``; the figures go to stdout (markdown) and,
with ``--json``, to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.outside import KEY, _stop, _wait_until_up, free_port, outside_server

BUCKET = "bench"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench-key",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_REGION": "us-east-1",
}


def _write_images(folder: Path, count: int) -> int:
    """``count`` distinct 128 px JPEGs; their total size in bytes."""
    from PIL import Image

    folder.mkdir(parents=True)
    total = 0
    for i in range(count):
        path = folder / f"photo{i:05d}.jpg"
        Image.new("RGB", (128, 96), (i % 256, (i // 256) * 40 % 256, 120)).save(path, quality=85)
        total += path.stat().st_size
    return total


async def _fill_bucket(endpoint: str, folder: Path) -> None:
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        BUCKET,
        endpoint=endpoint,
        access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region=CREDENTIALS["AWS_REGION"],
        client_options={"allow_http": True},
    )
    gate = asyncio.Semaphore(16)

    async def put(path: Path) -> None:
        async with gate:
            await obstore.put_async(store, f"in/{path.name}", path.read_bytes())

    await asyncio.gather(*(put(p) for p in sorted(folder.iterdir())))


def _moto() -> tuple[subprocess.Popen[Any], str]:
    port = free_port()
    command = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    if command is None:
        raise SystemExit("moto_server not found: install the dev extra (pip install -e '.[dev]')")
    process = subprocess.Popen(
        [command, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    _wait_until_up(f"{endpoint}/moto-api/", process, "moto_server")
    return process, endpoint


def _client(endpoint: str, source: str, out: str, scale: float, journal: str) -> dict[str, Any]:
    """Run one client in its own process; its own report (finished count, CPU, seconds)."""
    code = (
        "import asyncio, json, time, resource\n"
        "from pathlib import Path\n"
        "from viesus import AsyncViesus, EnhanceOptions, PollSchedule\n"
        f"source, out, endpoint = {source!r}, {out!r}, {endpoint!r}\n"
        "async def main():\n"
        "    ok = 0\n"
        f"    async with AsyncViesus(api_key={KEY!r}, endpoint=endpoint,\n"
        f"                           poll_schedule=PollSchedule().scaled({scale})) as v:\n"
        "        bucket = source.startswith('s3://')\n"
        "        items = [source] if bucket else sorted(Path(source).iterdir())\n"
        "        results = v.enhance_many(\n"
        f"            items, EnhanceOptions(), out, journal={journal!r}\n"
        "        )\n"
        "        async for r in results:\n"
        "            ok += r.status == 'finished'\n"
        "    return ok\n"
        "start = time.monotonic(); ok = asyncio.run(main())\n"
        "use = resource.getrusage(resource.RUSAGE_SELF)\n"
        "print(json.dumps({'ok': ok, 'seconds': time.monotonic() - start,\n"
        "                  'cpu_s': use.ru_utime + use.ru_stime}))\n"
    )
    env = {**os.environ, **CREDENTIALS}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"client failed: {done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _counts(base: str) -> dict[str, int]:
    """The proxy's requests by kind, and the emulator's by GraphQL operation (``op:`` keys)."""
    answer = httpx.get(f"{base}/bench/counts", timeout=30, trust_env=False)
    answer.raise_for_status()
    snapshot = answer.json()
    operations = snapshot["emulator"]["requests"]["by_operation"]
    return {**snapshot["proxy"], **{f"op:{k}": v for k, v in operations.items()}}


def measure(images: int, slots: int, scale: float) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        total_bytes = _write_images(root / "in", images)
        moto, s3 = _moto()
        try:
            os.environ["AWS_ENDPOINT_URL"] = s3
            httpx.put(f"{s3}/{BUCKET}", timeout=10).raise_for_status()  # moto: a new bucket
            asyncio.run(_fill_bucket(s3, root / "in"))
            rows = []
            with outside_server(slots, scale, root / "in") as urls:
                runs = [
                    ("local files", str(root / "in"), str(root / "out"), total_bytes),
                    ("bucket objects", f"s3://{BUCKET}/in/", f"s3://{BUCKET}/out/", 0),
                ]
                for name, source, out, _ in runs:
                    before = _counts(urls["base"])
                    journal = str(root / f"{name.split()[0]}.sqlite")
                    report = _client(urls["endpoint"], source, out, scale, journal)
                    after = _counts(urls["base"])
                    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
                    rows.append(_row(name, images, slots, delta, report, total_bytes))
            return rows
        finally:
            _stop(moto)


def _row(
    name: str, images: int, slots: int, delta: dict[str, int], report: dict[str, Any], size: int
) -> dict[str, Any]:
    puts = delta.get("put", 0)
    requests = sum(v for k, v in delta.items() if not k.startswith("op:"))
    return {
        "source": name,
        "images": images,
        "slots": slots,
        "ok": report["ok"],
        "graphql_per_image": delta.get("graphql", 0) / images,
        "puts_per_image": puts / images,
        "downloads_per_image": delta.get("download", 0) / images,
        "requests_per_image": requests / images,
        "operations": {k[3:]: v for k, v in delta.items() if k.startswith("op:") and v},
        # Every PUT to the service carries one whole source file (same-size JPEGs here).
        "image_kb_sent": puts * (size / images) / 1e3,
        "cpu_ms_per_image": 1000 * report["cpu_s"] / images,
        "seconds": report["seconds"],
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| source | images | slots | requests/img (GraphQL + PUT + download) "
        "| image KB the client sent to the service | CPU ms/img | real s | ok |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['source']} | {r['images']:,} | {r['slots']} | **{r['requests_per_image']:.3f}** "
            f"({r['graphql_per_image']:.3f} + {r['puts_per_image']:.2f} + "
            f"{r['downloads_per_image']:.2f}) | {r['image_kb_sent']:,.0f} | "
            f"{r['cpu_ms_per_image']:.1f} | {r['seconds']:.0f} | {r['ok']:,} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--slots", type=int, default=16)
    parser.add_argument("--time-scale", type=float, default=0.1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows = measure(args.images, args.slots, args.time_scale)
    print(f"Measured {started}, emulator time scale {args.time_scale}:\n")
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps({"measured": started, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
