"""Fixtures for facade tests against the real emulator on 127.0.0.1 (hermetic)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from PIL import Image

from viesus import AsyncViesus, PollSchedule, RetryPolicy
from viesus_emulator import Emulator, EmulatorConfig, FaultConfig

API_KEY = "test-key-9f3b"
# The default schedule at the emulator's time scale (0.01).
FAST_POLL = PollSchedule().scaled(0.01)
FAST_RETRY = RetryPolicy(max_attempts=5, base=0.01, cap=0.05, max_retry_after=2.0)


def write_photo(path: Path, size: tuple[int, int] = (96, 64), seed: int = 0) -> Path:
    """A small JPEG with a gradient and some noise (distinct content per seed)."""
    rng = random.Random(seed)
    image = Image.new("RGB", size)
    pixels = [
        (
            (x * 255 // size[0] + rng.randint(0, 20)) % 256,
            (y * 255 // size[1] + seed * 7) % 256,
            rng.randint(0, 255),
        )
        for y in range(size[1])
        for x in range(size[0])
    ]
    image.putdata(pixels)
    image.save(path, "JPEG", quality=85)
    return path


@pytest.fixture
def photos(tmp_path: Path) -> Callable[[int], list[Path]]:
    def make(count: int, size: tuple[int, int] = (96, 64)) -> list[Path]:
        folder = tmp_path / "in"
        folder.mkdir(exist_ok=True)
        return [write_photo(folder / f"photo{i:03d}.jpg", size, seed=i) for i in range(count)]

    return make


def emulator_config(**overrides: object) -> EmulatorConfig:
    config = EmulatorConfig(
        api_keys=(API_KEY,),
        time_scale=0.01,
        workers=4,
        credits=100_000,
        webhook_retry_delays=(0.02, 0.05, 0.1),
    )
    for name, value in overrides.items():
        setattr(config, name, value)
    return config


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(emulator_config()) as emu:
        yield emu


def make_client(emu: Emulator, **kwargs: object) -> AsyncViesus:
    options: dict[str, object] = {"poll_schedule": FAST_POLL, "retry": FAST_RETRY}
    options.update(kwargs)
    return AsyncViesus(api_key=API_KEY, endpoint=emu.endpoint, **options)  # type: ignore[arg-type]


@pytest.fixture
async def viesus(emulator: Emulator) -> AsyncIterator[AsyncViesus]:
    async with make_client(emulator) as client:
        yield client


def requests_for(emu: Emulator, operation: str) -> int:
    return int(emu.stats()["requests"]["by_operation"].get(operation, 0))


__all__ = ["FaultConfig"]
