"""The house's limits on hand-written code: modules of a few hundred lines, functions that fit
a screen (docs/ARCHITECTURE.md names the declarative tables, which are constants, not code)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULE_LINES = 600
FUNCTION_LINES = 80


def hand_written() -> list[Path]:
    return sorted(
        p
        for package in ("viesus", "viesus_emulator", "codegen")
        for p in (ROOT / package).rglob("*.py")
    )


@pytest.mark.parametrize("path", hand_written(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_and_function_sizes(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= MODULE_LINES
    too_long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > FUNCTION_LINES
    ]
    assert too_long == []
