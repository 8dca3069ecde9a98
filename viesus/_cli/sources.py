"""Turn what the user typed (files, folders, globs, URLs, ``@list.txt``, ``-``) into sources.

Folders are searched recursively for the types the service accepts (images and PDFs, by
extension; the facade reads each header before anything is spent). The order is stable
(sorted within a folder or glob), duplicates are dropped, and every argument that yields
nothing is an error naming that argument, so a typo never turns into an empty, "successful"
run.
"""

from __future__ import annotations

import glob
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from viesus._cli.errors import UsageProblem

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".pdf"})
GLOB_CHARACTERS = frozenset("*?[")


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _wanted(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in EXTENSIONS and not path.name.startswith(".")


def _folder(path: Path) -> list[str]:
    return [str(p) for p in sorted(path.rglob("*")) if _wanted(p)]


def _list_file(argument: str, lines: Iterable[str], stdin: TextIO) -> list[str]:
    found: list[str] = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line == "-" or line.startswith("@"):
            raise UsageProblem(f"{argument}: nested lists are not supported ({line!r})")
        found.extend(expand(line, stdin))
    return found


def expand(argument: str, stdin: TextIO) -> list[str]:
    """The sources one argument stands for (raises UsageProblem naming it when none)."""
    if argument == "-":
        return _list_file("stdin", stdin, stdin)
    if argument.startswith("@"):
        list_path = Path(argument[1:])
        try:
            text = list_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageProblem(f"{argument}: cannot read the list ({exc.strerror})") from None
        return _list_file(argument, text.splitlines(), stdin)
    if is_url(argument):
        return [argument]
    path = Path(argument).expanduser()
    if path.is_dir():
        found = _folder(path)
        if not found:
            raise UsageProblem(
                f"{argument}: no images or PDFs in this folder "
                f"(looked for {', '.join(sorted(EXTENSIONS))})"
            )
        return found
    if path.is_file():
        return [str(path)]
    if GLOB_CHARACTERS & set(argument):
        matches = sorted(glob.glob(str(path), recursive=True))
        found = [m for m in matches if _wanted(Path(m))]
        found += [f for m in matches if Path(m).is_dir() for f in _folder(Path(m))]
        if not found:
            raise UsageProblem(f"{argument}: the pattern matches no image or PDF")
        return found
    raise UsageProblem(f"{argument}: no such file or folder (nor an http(s) URL)")


def discover(arguments: Iterable[str], stdin: TextIO | None = None) -> list[str]:
    """All sources of all arguments, first occurrence kept."""
    stream = stdin if stdin is not None else sys.stdin
    seen: set[str] = set()
    ordered: list[str] = []
    for argument in arguments:
        for source in expand(argument, stream):
            key = source if is_url(source) else str(Path(source).resolve())
            if key not in seen:
                seen.add(key)
                ordered.append(source)
    return ordered
