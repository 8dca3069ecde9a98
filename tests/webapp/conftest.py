"""An emulator in a thread of the test process (it outlives the web app) and the example web
app in a subprocess (tests/webapp/served_app.py) against it, on a port chosen here."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.facade.conftest import API_KEY, emulator_config
from viesus_emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no /usr/bin/chromium: `apt-get install -y chromium` (.ci/run does) to run the "
        "browser tests",
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class WebApp:
    emulator: Emulator
    port: int
    max_bytes: int | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, kill: str | None = None) -> None:
        argv = [sys.executable, "-m", "tests.webapp.served_app", "--port", str(self.port)]
        argv += ["--max-bytes", str(self.max_bytes)] if self.max_bytes else []
        argv += ["--kill", kill] if kill else []
        env = {**os.environ, "VIESUS_ENDPOINT": self.emulator.endpoint, "VIESUS_API_KEY": API_KEY}
        self.process = subprocess.Popen(argv, cwd=ROOT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the web app exited at start"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/api/credits", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise TimeoutError("the web app did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        self.process = None

    def jobs(self) -> tuple[int, int]:
        stats = self.emulator.stats()["jobs"]
        return int(stats["total"]), int(stats["duplicates"])


@contextlib.contextmanager
def web_app(credits: int = 100_000, max_bytes: int | None = None) -> Iterator[WebApp]:
    port = free_port()
    config = emulator_config(credits=credits, cors_origins=(f"http://127.0.0.1:{port}",))
    with Emulator(config).running_in_thread() as emu:
        app = WebApp(emu, port, max_bytes)
        try:
            yield app
        finally:
            app.stop()


@pytest.fixture
def webapp() -> Iterator[WebApp]:
    with web_app() as app:
        app.start()
        yield app
