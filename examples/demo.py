"""``make demo``: enhance a few real photos offline, through the facade, against the emulator.

The photos are the real photographs bundled inside scikit-image's wheel (nothing is
downloaded). The emulator runs in this process on a free 127.0.0.1 port with its processing
time scaled down, so the demo takes seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from viesus import EnhanceOptions, Viesus
from viesus_emulator import Emulator, EmulatorConfig

SAMPLES = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png")
OUT = Path("demo-out")


def sample_photos() -> list[Path]:
    import skimage

    data = Path(skimage.__file__).parent / "data"
    found = [data / name for name in SAMPLES if (data / name).exists()]
    if not found:
        raise SystemExit("scikit-image's bundled photos are missing: run `make setup`")
    return found


async def run() -> None:
    console = Console(width=120)
    photos = sample_photos()
    if OUT.exists():
        shutil.rmtree(OUT)  # the demo's own output folder, regenerated on every run
    config = EmulatorConfig(api_keys=("local",), time_scale=0.02, workers=2, credits=100)
    async with Emulator(config) as emulator:
        console.print(f"emulator at [bold]{emulator.endpoint}[/] (API key 'local')")
        async with Viesus(api_key="local", endpoint=emulator.endpoint) as viesus:
            before = await viesus.remaining_credits()
            options = EnhanceOptions.model_validate(
                {
                    "mode": "ENHANCE",
                    "noiseReductionProfilingMode": "AUTO",
                    "noiseReductionProfilingStrength": "0.5",
                    "upscalingFactor": "X2",
                }
            )
            started = time.monotonic()
            table = Table(title="viesus-toolkit demo: ENHANCE + noise reduction + X2 upscaling")
            for column in ("source", "status", "output", "job", "credits"):
                table.add_column(column, no_wrap=True, overflow="fold")
            async for result in viesus.enhance_many(
                photos, options, OUT, journal=OUT / ".viesus-journal.sqlite"
            ):
                table.add_row(
                    Path(result.source).name,
                    result.status if result.ok else f"failed: {result.reason}",
                    result.output_path.name if result.output_path else "",
                    (result.job_id or "")[:8],
                    str(result.credits),
                )
            elapsed = time.monotonic() - started
            after = await viesus.remaining_credits()
        stats = emulator.stats()
    console.print(table)
    console.print(
        f"{len(photos)} photos in {elapsed:.1f} s; credits {before} -> {after} "
        f"({before - after} spent); GraphQL requests seen by the emulator: "
        f"{stats.get('requests', {}).get('total', '?')}"
    )
    console.print(f"results are in [bold]{OUT.resolve()}[/]")


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
