"""Every third-party module the runtime packages import is installed by what a user installs.

A module imported by ``viesus`` or ``viesus_emulator`` comes from a runtime dependency, or from
an extra that is declared in ``pyproject.toml`` *directly* (not only through another package's
dependencies) and that the CLI names when the module is missing (``EXTRA_OF_MODULE``: one line
with the ``pip install`` to run instead of a crash). The emulator's modules may only need the
``emulator`` extra. Read from the source, so it runs without the network; the install tests
show the same end to end.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib

import pytest

from tests.install.conftest import ROOT
from viesus._cli.errors import EXTRA_OF_MODULE

FIRST_PARTY = {"viesus", "viesus_client", "viesus_emulator"}


def _name(requirement: str) -> str:
    found = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert found is not None, requirement
    return re.sub(r"[-_.]+", "-", found.group(0)).lower()


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
BASE = {_name(r) for r in PROJECT["dependencies"]}
EXTRAS = {
    extra: {_name(r) for r in requirements if not r.startswith("viesus-toolkit")}
    for extra, requirements in PROJECT["optional-dependencies"].items()
}
DISTRIBUTIONS = {
    module: {_name(d) for d in dists}
    for module, dists in importlib.metadata.packages_distributions().items()
}


def imported_modules(package: str) -> dict[str, str]:
    """Top-level third-party modules imported anywhere in ``package`` -> one file importing it."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize(
    ("package", "allowed_extras"),
    [("viesus", set(EXTRAS) - {"dev"}), ("viesus_emulator", {"emulator"})],
)
def test_every_imported_module_is_installed_by_a_declared_requirement(
    package: str, allowed_extras: set[str]
) -> None:
    modules = imported_modules(package)
    assert modules, "the scan found no imports at all"
    for module, where in sorted(modules.items()):
        dists = DISTRIBUTIONS.get(module)
        assert dists, f"{where} imports {module}, which no installed distribution provides"
        if dists & BASE:
            continue
        extras = {extra for extra in allowed_extras if dists & EXTRAS[extra]}
        assert extras, (
            f"{where} imports {module} ({', '.join(sorted(dists))}): declare it in pyproject.toml"
            f" (dependencies or one of the extras {sorted(allowed_extras)})"
        )
        assert EXTRA_OF_MODULE.get(module) in extras, (
            f"{where} imports {module} from the {sorted(extras)} extra: add it to the CLI's "
            "EXTRA_OF_MODULE so a missing extra is one line, not a crash"
        )
