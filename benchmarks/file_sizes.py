"""``make bench-memory``: the client's peak RSS is flat in file size (1 MB vs ~100 MB files).

For JPEG, PNG, TIFF and WebP files of about 1 MB and about 100 MB (noise, so nothing
compresses), each client step runs in a fresh process that first warms up on a tiny file, then
notes its RSS, runs the step once and reports how far its peak RSS (``VmHWM``) rose:

- ``header + hash``: :func:`viesus.read_image_header` (what the pipeline checks before
  spending) and the sha256 of the file (what the journal keys the source by);
- ``upload``: the signed-upload flow (reserve, streamed PUT, complete) against the emulator;
- ``download``: a result streamed to disk (written and hashed off the event loop) from the
  benchmark server, the way results are saved.

Goal (issue 11): the ~100 MB file within +10 MB of the 1 MB file, any format, every step.
Results are printed as a Markdown table (copied into BENCHMARKS.md by hand).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.contenders import status_kb
from benchmarks.server import KEY

FORMATS = {"JPEG": ".jpg", "PNG": ".png", "TIFF": ".tif", "WEBP": ".webp"}
STEPS = ("header + hash", "upload", "download")
SIZES = {"1 MB": 1_000_000, "100 MB": 95_000_000}  # the emulator takes up to 100 MiB


def make_file(folder: Path, fmt: str, target: int) -> Path:
    """A noise image of about ``target`` bytes in ``fmt``."""
    import numpy as np
    from PIL import Image

    def save(side: int, path: Path) -> int:
        pixels = np.random.default_rng(side).integers(0, 256, (side, side, 3), dtype=np.uint8)
        options: dict[str, Any] = {"quality": 100} if fmt in ("JPEG", "WEBP") else {}
        Image.fromarray(pixels).save(path, fmt, **options)
        return path.stat().st_size

    path = folder / f"noise-{target}{FORMATS[fmt]}"
    probe = folder / f"probe{FORMATS[fmt]}"
    per_pixel = save(256, probe) / 256**2
    side = min(16_000, int((target / per_pixel) ** 0.5))  # WebP's limit is 16,383 px a side
    save(side, path)
    return path


def reset_peak() -> None:
    """Start ``VmHWM`` again from the current RSS (Linux: ``/proc/self/clear_refs``)."""
    Path("/proc/self/clear_refs").write_text("5")


async def step(name: str, path: Path, warm: Path, endpoint: str, base: str) -> int:
    """Run ``name`` on ``warm`` (imports, buffers, pools), then on ``path``: peak RSS rise, KiB."""
    from viesus import AsyncViesus, read_image_header
    from viesus._aliased_requests import BatchSize
    from viesus._downloads import download_part
    from viesus._journal.keys import hash_file
    from viesus._retries import RetryPolicy
    from viesus._uploads import LocalFile, upload_files

    async with AsyncViesus(api_key=KEY, endpoint=endpoint) as viesus:

        async def once(file: Path) -> None:
            if name == "header + hash":
                read_image_header(file)
                await asyncio.to_thread(hash_file, file)
            elif name == "upload":
                header = read_image_header(file)
                local = LocalFile(file, header.mimetype, file.stat().st_size)
                results = await upload_files(
                    viesus.api, viesus.http, [local], BatchSize(1), RetryPolicy()
                )
                if results[0].error is not None:
                    raise results[0].error
            else:
                part = file.parent / f".download-{file.name}"
                url = f"{base}/bench/images/{file.name}"
                await download_part(viesus.http, url, part, policy=RetryPolicy())
                part.unlink()

        await once(warm)
        before = status_kb("VmRSS")
        reset_peak()
        await once(path)
        return status_kb("VmHWM") - before


def child(args: argparse.Namespace) -> None:
    rise = asyncio.run(step(args.step, args.path, args.warm, args.endpoint, args.base))
    print(json.dumps({"rise_kb": rise}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", choices=STEPS)
    parser.add_argument("--path", type=Path)
    parser.add_argument("--warm", type=Path)
    parser.add_argument("--endpoint")
    parser.add_argument("--base")
    args = parser.parse_args()
    if args.step:
        child(args)
        return
    from benchmarks.__main__ import server

    with tempfile.TemporaryDirectory() as folder:
        images = Path(folder)
        files = {
            (fmt, size): make_file(images, fmt, target)
            for fmt in FORMATS
            for size, target in SIZES.items()
        }
        rows = []
        with server(1, 0.01, images) as urls:
            for fmt in FORMATS:
                warm = make_file(images, fmt, 20_000)
                for name in STEPS:
                    rises = {}
                    for size in SIZES:
                        result = subprocess.run(
                            [
                                sys.executable,
                                "-m",
                                "benchmarks.file_sizes",
                                "--step",
                                name,
                                "--path",
                                str(files[fmt, size]),
                                "--warm",
                                str(warm),
                                "--endpoint",
                                urls["endpoint"],
                                "--base",
                                urls["base"],
                            ],
                            capture_output=True,
                            text=True,
                            check=False,
                        )
                        if result.returncode != 0:
                            raise SystemExit(f"{fmt} {name} {size}: {result.stderr[-2000:]}")
                        rises[size] = json.loads(result.stdout.splitlines()[-1])["rise_kb"]
                    sizes = [files[fmt, size].stat().st_size / 1e6 for size in SIZES]
                    rows.append((fmt, name, sizes, rises))
    print("| format | step | files (MB) | peak RSS rise, 1 MB file | ~100 MB file | difference |")
    print("|---|---|---|---:|---:|---:|")
    for fmt, name, sizes, rises in rows:
        small, large = rises["1 MB"] / 1024, rises["100 MB"] / 1024
        print(
            f"| {fmt} | {name} | {sizes[0]:.1f} / {sizes[1]:.1f} | {small:.1f} MiB "
            f"| {large:.1f} MiB | {large - small:+.1f} MiB |"
        )


if __name__ == "__main__":
    main()
