"""The walls between the packages, checked in fresh interpreters (this one has imported all).

``import viesus`` stays cheap: no sqlite3, Pillow, uvicorn or emulator until a feature needs
them. The emulator imports nothing from ``viesus`` (it is a separate implementation the client
is tested against), not even through its runner, app or command modules.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("sqlite3", "PIL", "uvicorn", "viesus_emulator", "numpy", "cv2", "ariadne")


def loaded_after(code: str) -> set[str]:
    """The module names in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    program = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


@pytest.mark.parametrize("code", ["import viesus", "from viesus import Viesus, EnhanceOptions"])
def test_import_viesus_loads_nothing_heavy(code: str) -> None:
    loaded = loaded_after(code)
    assert "viesus" in loaded
    assert sorted(m for m in loaded if m.split(".")[0] in HEAVY) == []


def test_import_viesus_installs_no_log_filter() -> None:
    code = (
        "import logging, viesus\n"
        "assert all(not logging.getLogger(n).filters for n in ('httpx', 'httpcore')), 'filter'"
    )
    loaded_after(code)


def test_emulator_imports_nothing_from_viesus() -> None:
    code = (
        "import pkgutil, importlib, viesus_emulator\n"
        "for info in pkgutil.walk_packages(viesus_emulator.__path__, 'viesus_emulator.'):\n"
        "    importlib.import_module(info.name)\n"
        "from viesus_emulator import Emulator\n"
    )
    loaded = loaded_after(code)
    assert {"viesus_emulator.runner", "viesus_emulator.app", "viesus_emulator.command"} <= loaded
    assert sorted(m for m in loaded if m == "viesus" or m.startswith("viesus.")) == []
