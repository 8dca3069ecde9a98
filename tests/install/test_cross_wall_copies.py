"""The deliberate copies across a wall stay copies (each names its original in its header).

The emulator imports nothing from ``viesus``, so it carries its own embedded-server code; the
two may differ only in how the uvicorn server is made (the client imports uvicorn lazily).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ORIGINAL = ROOT / "viesus" / "_webhooks" / "serving.py"
COPY = ROOT / "viesus_emulator" / "_serving.py"


def _normalised(path: Path) -> dict[str, str]:
    """Top-level functions and ``Serving``'s methods, with the server factory's name and the
    lazy ``import uvicorn`` statements folded away."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "bind_socket":
            found[node.name] = ast.unparse(node)
        if isinstance(node, ast.ClassDef) and node.name == "Serving":
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    item.body = [s for s in item.body if not _imports_uvicorn(s)]
                    text = ast.unparse(item).replace("_embedded_server", "EmbeddedServer")
                    found[f"Serving.{item.name}"] = text.replace("uvicorn.Server", "EmbeddedServer")
    return found


def _imports_uvicorn(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Import) and statement.names[0].name == "uvicorn"


def test_the_emulator_embedded_server_is_the_client_one() -> None:
    original, copy = _normalised(ORIGINAL), _normalised(COPY)
    assert set(original) == set(copy)
    differing = [name for name in original if original[name] != copy[name]]
    assert differing == [], differing


def test_each_copy_names_its_original() -> None:
    assert "viesus_emulator/_serving.py" in ORIGINAL.read_text(encoding="utf-8").split("\n", 3)[0]
    assert "viesus/_webhooks/serving.py" in "\n".join(COPY.read_text().splitlines()[:5])
