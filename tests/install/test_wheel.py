"""Install like a user: the built wheel in fresh virtualenvs, with and without extras."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import threading
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.install.conftest import Venv

pytestmark = pytest.mark.install

HEAVY = ("sqlite3", "PIL", "uvicorn", "viesus_emulator", "numpy", "cv2", "ariadne")


def test_wheel_ships_the_three_packages_and_their_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "viesus/__init__.py",
        "viesus/py.typed",
        "viesus_client/__init__.py",
        "viesus_client/py.typed",
        "viesus_client/schema.graphql",
        "viesus_emulator/__init__.py",
    ):
        assert required in names, f"{required} missing from {wheel.name}"
    tops = {n.split("/", 1)[0] for n in names}
    assert tops - {"viesus", "viesus_client", "viesus_emulator"} == {
        wheel.name.split("-py3")[0] + ".dist-info"
    }, f"unexpected top-level entries: {sorted(tops)}"
    assert not [n for n in names if "__pycache__" in n]
    (license_file,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert "MIT License" in zipfile.ZipFile(wheel).read(license_file).decode()


def test_plain_install_imports_and_runs_the_cli(plain_venv: Venv) -> None:
    imported = plain_venv.run(
        plain_venv.python,
        "-c",
        "import json, sys, viesus, viesus_client; print(json.dumps(sorted(sys.modules)))",
    )
    assert imported.returncode == 0, imported.stderr
    loaded = set(json.loads(imported.stdout))
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}
    version = plain_venv.run(
        plain_venv.python,
        "-c",
        "import importlib.metadata as m, viesus; "
        "print(m.version('viesus-toolkit'), viesus.__version__)",
    )
    assert version.returncode == 0, version.stderr
    distribution, module = version.stdout.split()
    assert distribution == module, "the wheel's version is viesus.__version__"
    helped = plain_venv.run(plain_venv.script("viesus"), "--help")
    assert helped.returncode == 0, helped.stdout + helped.stderr
    assert "serve" in helped.stdout
    assert "Traceback" not in helped.stdout + helped.stderr


def test_plain_install_names_the_extra_a_command_needs(plain_venv: Venv) -> None:
    """``viesus serve`` without the emulator extra: one line saying what to install, exit 1."""
    served = plain_venv.run(plain_venv.script("viesus"), "serve", "--port", "0")
    output = (served.stdout + served.stderr).strip()
    assert served.returncode == 1, output
    assert "pip install 'viesus-toolkit[emulator]'" in output
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    version = plain_venv.run(plain_venv.script("viesus"), "--version")
    assert version.returncode == 0, version.stdout + version.stderr
    assert (
        version.stdout.split()[-1]
        == plain_venv.run(
            plain_venv.python, "-c", "import viesus; print(viesus.__version__)"
        ).stdout.strip()
    )


def test_plain_install_has_no_emulator_dependencies(plain_venv: Venv) -> None:
    """The point of the extra: a client install stays small."""
    found = plain_venv.run(
        plain_venv.python,
        "-c",
        "import importlib.util as u; "
        "print([m for m in ('ariadne', 'cv2', 'numpy') if u.find_spec(m)])",
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "[]"


def test_readme_example_passes_a_users_mypy_strict(plain_venv: Venv, tmp_path: Path) -> None:
    """The README's Python example, type-checked against the installed package (py.typed)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.S)
    assert example is not None, "README has no Python example under ## Python API"
    (tmp_path / "example.py").write_text(example.group(1), encoding="utf-8")
    (tmp_path / "mypy.ini").write_text("[mypy]\nstrict = True\n", encoding="utf-8")
    # The project's mypy, pointed at the user's environment: it finds the installed packages
    # (and only those) the way a user's mypy does.
    result = subprocess.run(
        [
            str(Path(__import__("sys").executable)),
            "-m",
            "mypy",
            "--config-file",
            "mypy.ini",
            "--python-executable",
            str(plain_venv.python),
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "example.py",
        ],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_emulator_install_serves_a_query(emulator_venv: Venv) -> None:
    server = subprocess.Popen(
        [str(emulator_venv.script("viesus")), "serve", "--port", "0", "--quiet"],
        cwd=emulator_venv.path,
        env={"PATH": str(emulator_venv.path / "bin"), "HOME": str(emulator_venv.path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        endpoint = _wait_for_banner(server, timeout=60)
        response = httpx.post(
            endpoint,
            json={"query": "{ credits { usedCreditsThisPeriod remainingCreditsThisPeriod } }"},
            headers={"x-api-key": "local"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert response.json() == {
            "data": {"credits": {"usedCreditsThisPeriod": 0, "remainingCreditsThisPeriod": 1000}}
        }
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert "emulator stopped" in output


def _wait_for_banner(server: subprocess.Popen[str], timeout: float) -> str:
    """The endpoint from the ``listening on`` line (the port was chosen by the server)."""
    for line in read_until(server, "listening on", timeout):
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            return found.group(1)
    raise AssertionError("unreachable")  # read_until returns only once the marker was seen


def read_until(server: subprocess.Popen[str], marker: str, timeout: float) -> list[str]:
    """The server's output lines up to and including the first one containing ``marker``.

    A thread reads (``select`` cannot see lines already in the pipe's Python buffer); the
    server keeps running, its later output is drained by the caller's ``communicate``.
    """
    stream = server.stdout
    assert stream is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in iter(stream.readline, ""):
            lines.put(line.rstrip("\n"))
            if marker in line:
                return  # leave the rest to communicate()
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if marker in line:
            return seen
    raise AssertionError(f"no {marker!r} from the server within {timeout} s:\n" + "\n".join(seen))
