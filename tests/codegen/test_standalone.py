"""The build step stands alone: it imports no runtime package and repairs a broken generated/.

``python -m codegen`` must work exactly when the generated package is missing or broken (that is
when it is needed), so it may not import ``viesus``, ``viesus_client`` or ``viesus_emulator``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.codegen.conftest import ROOT

NO_CACHES = shutil.ignore_patterns("__pycache__", ".ruff_cache", ".mypy_cache")

# Runs `python -m codegen ARGS` in-process and writes the runtime modules it imported to a file.
RUNNER = """
import json, os, runpy, sys
sys.argv = ["codegen", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("codegen", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
runtime = {"viesus", "viesus_client", "viesus_emulator"}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in runtime)
with open(os.environ["REPORT"], "w") as handle:
    json.dump(loaded, handle)
sys.exit(code)
"""


def run_codegen(
    args: list[str], cwd: Path, report: Path
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    env = {**os.environ, "REPORT": str(report), "PYTHONPATH": str(cwd)}
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    loaded = json.loads(report.read_text()) if report.exists() else ["<no report>"]
    return result, loaded


@pytest.mark.parametrize(
    "args",
    [["--help"], ["diff", "schema/viesus.graphql", "schema/viesus.graphql"], ["check", "--help"]],
    ids=["help", "diff", "check-help"],
)
def test_codegen_imports_no_runtime_package(args: list[str], tmp_path: Path) -> None:
    result, loaded = run_codegen(args, ROOT, tmp_path / "report.json")
    assert result.returncode == 0, result.stderr
    assert loaded == []


def _copy_build_inputs(destination: Path) -> Path:
    """The parts of a checkout that `python -m codegen generate` reads and writes."""
    for name in ("codegen", "schema", "queries"):
        shutil.copytree(ROOT / name, destination / name, ignore=NO_CACHES)
    shutil.copyfile(ROOT / "pyproject.toml", destination / "pyproject.toml")
    package = destination / "generated" / "viesus_client"
    shutil.copytree(ROOT / "generated" / "viesus_client", package, ignore=NO_CACHES)
    return package


def _tree(base: Path) -> dict[str, bytes]:
    return {
        p.relative_to(base).as_posix(): p.read_bytes()
        for p in sorted(base.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_generate_repairs_missing_broken_and_stale_modules(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    package = _copy_build_inputs(checkout)
    expected = _tree(ROOT / "generated" / "viesus_client")
    assert "input_types.py" in expected
    assert "client.py" in expected
    (package / "input_types.py").unlink()
    (package / "client.py").write_text("this is not python (\n")
    (package / "deleted_operation.py").write_text("# an operation that no longer exists\n")
    untouched = package / "enums.py"
    inode_before, directory_before = untouched.stat().st_ino, package.stat().st_ino

    result, loaded = run_codegen(["generate"], checkout, tmp_path / "report.json")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "regenerated 3 files" in result.stdout
    assert loaded == [], "the build step imported a runtime package"
    assert _tree(package) == expected
    # Only the changed files were replaced; the package directory was never removed.
    assert untouched.stat().st_ino == inode_before
    assert package.stat().st_ino == directory_before
    assert not [p.name for p in package.iterdir() if p.name.startswith(".")], "no leftovers"

    check, _ = run_codegen(["generate", "--check"], checkout, tmp_path / "report2.json")
    assert check.returncode == 0, check.stdout + check.stderr


def test_generate_recreates_a_missing_package(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    package = _copy_build_inputs(checkout)
    shutil.rmtree(package)
    result, loaded = run_codegen(["generate"], checkout, tmp_path / "report.json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert loaded == []
    assert _tree(package) == _tree(ROOT / "generated" / "viesus_client")


def test_generate_check_names_stale_files_and_changes_nothing(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    package = _copy_build_inputs(checkout)
    (package / "client.py").write_text("# stale\n")
    result, _ = run_codegen(["generate", "--check"], checkout, tmp_path / "report.json")
    assert result.returncode == 1
    assert "client.py" in result.stderr
    assert (package / "client.py").read_text() == "# stale\n"
