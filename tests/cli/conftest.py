"""The CLI as a user runs it: a real ``viesus`` subprocess against a real ``viesus serve``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIESUS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "generated")])
    env["COLUMNS"] = "120"
    env.pop("FORCE_COLOR", None)
    env.update(extra)
    return env


def viesus_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "viesus", *args]


def run_cli(
    *args: str,
    cwd: Path | None = None,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        viesus_argv(*args),
        capture_output=True,
        text=True,
        env=cli_env(**(env or {})),
        cwd=cwd,
        input=stdin,
        timeout=180,
        check=False,
    )


@dataclass(frozen=True)
class Server:
    endpoint: str
    base: str
    key: str = "test-key"

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"{self.base}/stats", timeout=10).json()
        return data

    def env(self) -> dict[str, str]:
        return {"VIESUS_API_KEY": self.key, "VIESUS_ENDPOINT": self.endpoint}


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """``viesus serve`` on a free port (fast jobs)."""
    yield from _serve("--time-scale", "0.02", "--workers", "4")


@pytest.fixture
def slow_server() -> Iterator[Server]:
    """``viesus serve`` with full modelled processing time (about 2 s a job), one worker."""
    yield from _serve("--time-scale", "1.0", "--workers", "1")


def _serve(*options: str) -> Iterator[Server]:
    process = subprocess.Popen(
        viesus_argv("serve", "--port", "0", "--api-key", "test-key", "--quiet", *options),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=cli_env(),
    )
    assert process.stdout is not None
    endpoint = ""
    for line in process.stdout:
        if "listening on" in line:
            endpoint = line.split("listening on", 1)[1].strip()
            break
    if not endpoint:
        process.kill()
        pytest.fail("viesus serve did not start")
    try:
        yield Server(endpoint, endpoint.removesuffix("/graphql"))
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def write_photos(folder: Path, count: int, size: tuple[int, int] = (160, 120)) -> list[Path]:
    """Small real-looking JPEGs (smooth gradients and a disc), distinct per index."""
    folder.mkdir(parents=True, exist_ok=True)
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    paths = []
    for i in range(count):
        rgb = np.dstack(
            [
                60 + 150 * xx / width,
                50 + 120 * yy / height + 10 * i,
                200 - 100 * xx / width,
            ]
        )
        disc = ((xx - width * (0.3 + 0.1 * i)) ** 2 + (yy - height / 2) ** 2) < (height / 4) ** 2
        rgb[disc] = (220, 180, 40)
        path = folder / f"photo{i}.jpg"
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(path, quality=90)
        paths.append(path)
    return paths
