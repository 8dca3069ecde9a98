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

# rich and click are not listed: httpx itself imports them (its command line, httpx/__init__)
# whenever they are installed, as they are here for the CLI.
HEAVY = ("sqlite3", "PIL", "uvicorn", "viesus_emulator", "numpy", "cv2", "ariadne", "typer")


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


#: Parts of the client a program may never use: loaded by the method (or name) that needs them.
ON_FIRST_USE = (
    "viesus._pipeline",
    "viesus._journal",
    "viesus._journal.sqlite",
    "viesus._pdf",
    "viesus._journal.postgres.journal",
    "viesus._shared_batch",
    "viesus._webhooks.listener",
    "viesus._webhooks.receiver",
    "viesus._webhooks.registration",
    "viesus_client.create_webhook",
    "viesus_client.get_pdf_analysis",
)


def test_import_viesus_defers_what_only_some_programs_use() -> None:
    loaded = loaded_after("from viesus import Viesus, EnhanceOptions")
    assert sorted(loaded & set(ON_FIRST_USE)) == []


def test_lazy_names_resolve_to_their_modules() -> None:
    code = (
        "import viesus\n"
        "for name in viesus.__all__:\n"
        "    assert getattr(viesus, name) is not None, name\n"
        "from viesus import Journal, SharedBatch, WebhookListener\n"
        "assert Journal.__module__ == 'viesus._journal.sqlite'\n"
        "assert set(viesus.__all__) <= set(dir(viesus))\n"
        "try:\n"
        "    viesus.Nope\n"
        "except AttributeError as exc:\n"
        "    assert 'Nope' in str(exc)\n"
        "else:\n"
        "    raise SystemExit('viesus.Nope resolved')\n"
    )
    lazy_modules = {
        "viesus._journal.sqlite",
        "viesus._pdf",
        "viesus._shared_batch",
        "viesus._journal.postgres.journal",
    }
    assert lazy_modules | {"viesus._webhooks.listener"} <= loaded_after(code)


def test_generated_package_resolves_every_name_lazily() -> None:
    code = (
        "import viesus_client\n"
        "for name in viesus_client.__all__:\n"
        "    assert getattr(viesus_client, name) is not None, name\n"
        "from viesus_client import ViesusApiClient, GetCredits\n"
    )
    assert "viesus_client.list_webhooks" in loaded_after(code)
    assert "viesus_client.list_webhooks" not in loaded_after("import viesus_client")


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
    assert {"viesus_emulator._runner", "viesus_emulator._app", "viesus_emulator._command"} <= loaded
    assert sorted(m for m in loaded if m == "viesus" or m.startswith("viesus.")) == []
