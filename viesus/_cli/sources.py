"""Turn what the user typed (files, folders, globs, URLs, ``@list.txt``, ``-``) into sources.

Folders are searched recursively for the types the service accepts (images and PDFs, by
extension; the facade reads each header before anything is spent). The order is stable
(sorted within a folder or glob), duplicates are dropped, and every argument that yields
nothing is an error naming that argument, so a typo never turns into an empty, "successful"
run.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from viesus._buckets.locations import is_bucket
from viesus._cli.errors import UsageProblem
from viesus._cli.text import printable
from viesus._output_names import deepest_folder
from viesus._receipts import receipt_path
from viesus._sources import is_url

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".pdf"})
GLOB_CHARACTERS = frozenset("*?[")


def _wanted(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in EXTENSIONS and not path.name.startswith(".")


def _folder(path: Path) -> list[str]:
    return [str(p) for p in sorted(path.rglob("*")) if _wanted(p)]


# One path or URL per line: PATH_MAX is 4,096 bytes on Linux, so 8,192 leaves room for a URL
# and still bounds what one line can cost (an endless @/dev/zero is refused at its first line).
MAX_LINE_BYTES = 8192
FIX = "a list holds one path or URL per line"


def _shown(data: bytes) -> str:
    """The start of a bad line, escaped, for the message (never the whole line)."""
    text = printable(data[:40].decode("utf-8", "backslashreplace"))
    return text + ("…" if len(data) > 40 else "")


def _problem(data: bytes, body: bytes) -> str | None:
    if b"\0" in body:
        return "binary content (a NUL byte)"
    if len(data) > MAX_LINE_BYTES and not data.endswith(b"\n"):
        return f"longer than {MAX_LINE_BYTES:,} bytes"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text"
    return None


def _lines(name: str, stream: BinaryIO | TextIO) -> Iterator[tuple[int, str]]:
    """(number, text) of each line, read one at a time; a line that is too long, holds a NUL
    byte or is not UTF-8 raises UsageProblem naming the list and the line number."""
    number = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
        body = data.removesuffix(b"\n").removesuffix(b"\r")
        problem = _problem(data, body)
        if problem is not None:
            raise UsageProblem(f"{name} line {number}: {problem} ({_shown(body)}); {FIX}")
        yield number, body.decode("utf-8")


def _list_file(argument: str, stream: BinaryIO | TextIO, stdin: TextIO) -> list[str]:
    found: list[str] = []
    for number, raw in _lines(argument, stream):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line == "-" or line.startswith("@"):
            raise UsageProblem(f"{argument}: nested lists are not supported ({line!r})")
        try:
            found.extend(expand(line, stdin))
        except UsageProblem as exc:
            raise UsageProblem(f"{argument} line {number}: {exc}") from None
    return found


def expand(argument: str, stdin: TextIO) -> list[str]:
    """The sources one argument stands for (raises UsageProblem naming it when none)."""
    if argument == "-":
        return _list_file("stdin", getattr(stdin, "buffer", stdin), stdin)
    if argument.startswith("@"):
        try:
            with Path(argument[1:]).open("rb") as stream:
                return _list_file(argument, stream, stdin)
        except OSError as exc:
            raise UsageProblem(f"{argument}: cannot read the list ({exc.strerror})") from None
    if is_url(argument) or is_bucket(argument):
        return [argument]  # an s3:// prefix is listed by the facade (the buckets extra)
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


@dataclass(frozen=True)
class Discovered:
    """The sources, and the folder whose tree the outputs mirror (``root``)."""

    sources: list[str]
    root: Path | None
    left_out: int = 0  # files of the toolkit's own making the walk left out


def discover(
    arguments: Iterable[str],
    stdin: TextIO | None = None,
    *,
    out: Path | None = None,
    outputs: frozenset[Path] = frozenset(),
) -> Discovered:
    """All sources of all arguments, first occurrence kept, without the toolkit's own outputs:
    a folder walk never takes ``out`` (when it lies inside the folder) nor a file in
    ``outputs`` (resolved paths the journal records as outputs), so a rerun with ``--out``
    inside the input never enhances its own results. A file named explicitly is kept."""
    stream = stdin if stdin is not None else sys.stdin
    skip = _Skip(None if out is None else out.expanduser().absolute(), outputs)
    seen: set[str] = set()
    ordered: list[str] = []
    folders: list[Path] = []
    for argument in arguments:
        path = Path(argument).expanduser()
        listed = argument.startswith("@") or argument == "-"
        explicit = not listed and path.is_file()
        if path.is_dir() and not listed:
            folders.append(path.absolute())
        walked = None if listed or explicit else _walk_base(path)
        for source in expand(argument, stream):
            if not explicit and skip(source, walked):
                continue
            remote = is_url(source) or is_bucket(source)
            key = source if remote else str(Path(source).resolve())
            if key not in seen:
                seen.add(key)
                ordered.append(source)
    if not ordered and skip.count:
        raise UsageProblem(
            "every file found is an output of an earlier run (in --out or its journal); "
            "name the input folder, not the output folder"
        )
    return Discovered(ordered, _root(ordered, folders), skip.count)


class _Skip:
    """Whether a walked file is the toolkit's own: under ``out``, a recorded output, or one
    with a receipt beside it."""

    def __init__(self, out: Path | None, outputs: frozenset[Path]) -> None:
        self.out, self.outputs, self.count = out, outputs, 0

    def __call__(self, source: str, walked: Path | None) -> bool:
        """``walked``: the folder a walk or glob started from; ``out`` is left out only when
        it lies strictly inside it (``--out`` equal to the input keeps the inputs)."""
        if is_url(source) or is_bucket(source):
            return False
        path = Path(source).absolute()
        inside = walked is not None and self.out is not None and walked in self.out.parents
        own = (
            path.resolve() in self.outputs
            or (inside and self.out is not None and self.out in path.parents)
            or receipt_path(path).exists()  # an output this toolkit wrote (see _receipts)
        )
        self.count += own
        return own


def _walk_base(path: Path) -> Path | None:
    """The folder a folder argument or a glob walks from (a glob: its part before ``*?[``)."""
    if path.is_dir():
        return path.absolute()
    parts = []
    for part in path.parts:
        if GLOB_CHARACTERS & set(part):
            break
        parts.append(part)
    return Path(*parts).absolute() if parts else Path.cwd()


def _root(sources: list[str], folders: list[Path]) -> Path | None:
    """The deepest folder holding every folder argument and every local source's folder."""
    places = [str(f) for f in folders]
    places += [
        str(Path(s).absolute().parent) for s in sources if not is_url(s) and not is_bucket(s)
    ]
    return deepest_folder(places)
    try:
        return Path(os.path.commonpath(places))
    except ValueError:  # different drives
        return None
