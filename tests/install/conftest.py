"""The wheel, built once per session, and two fresh virtualenvs it is installed into.

``plain``: ``pip install viesus-toolkit`` (no extras), what a user of the client gets.
``emulator``: ``pip install 'viesus-toolkit[emulator]'``. Both are created and filled at the same
time (the installs wait on the network and the disk, not the CPU); pip's cache is reused, so a
warm run costs seconds. The dependencies come from the package index, like a user's install.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]


@dataclass(frozen=True)
class Venv:
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def script(self, name: str) -> Path:
        return self.path / "bin" / name

    def run(self, *argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in argv],
            cwd=cwd or self.path,
            env={"PATH": str(self.path / "bin"), "HOME": str(self.path)},
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [*PIP, "wheel", "--no-deps", "--wheel-dir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = out.glob("viesus_toolkit-*.whl")
    return built


@pytest.fixture(scope="session")
def venvs(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Venv]]:
    """Both environments, installed concurrently; the shared venv's pip installs into them."""
    wanted = {"plain": str(wheel), "emulator": f"{wheel}[emulator]"}
    made: dict[str, Venv] = {}
    running: dict[str, subprocess.Popen[str]] = {}
    for name, requirement in wanted.items():
        made[name] = Venv(tmp_path_factory.mktemp(f"venv-{name}"))
        venv.create(made[name].path, with_pip=False, clear=True)
        running[name] = subprocess.Popen(
            [*PIP, "--python", str(made[name].python), "install", requirement],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        for name, process in running.items():
            output, _ = process.communicate(timeout=900)
            assert process.returncode == 0, f"installing {wanted[name]} failed:\n{output}"
        yield made
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def plain_venv(venvs: dict[str, Venv]) -> Venv:
    return venvs["plain"]


@pytest.fixture(scope="session")
def emulator_venv(venvs: dict[str, Venv]) -> Venv:
    return venvs["emulator"]
