"""The committed SDL builds, is in its normal form, and every operation validates against it."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

from codegen.sdl import RECONSTRUCTED_HEADER, normalise_sdl

ROOT = Path(__file__).resolve().parents[2]
QUERIES = sorted((ROOT / "queries").glob("*.graphql"))


def test_sdl_builds_and_is_normalised(committed_sdl: str) -> None:
    build_schema(committed_sdl)
    assert committed_sdl.startswith(RECONSTRUCTED_HEADER + "\n")
    # A pull of a server serving this schema writes the same body: the file is a fixed point.
    assert normalise_sdl(committed_sdl) == committed_sdl


def test_sdl_is_packaged_with_the_generated_client(committed_sdl: str) -> None:
    from importlib.resources import files

    packaged = files("viesus_client").joinpath("schema.graphql").read_text(encoding="utf-8")
    assert packaged == committed_sdl


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.name)
def test_operation_file_validates(path: Path, committed_sdl: str) -> None:
    schema = build_schema(committed_sdl)
    fragments = (ROOT / "queries" / "fragments.graphql").read_text(encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    document = parse(text if path.name == "fragments.graphql" else text + "\n" + fragments)
    errors = [
        e
        for e in validate(schema, document)
        # Each file uses only some of the shared fragments.
        if "is never used" not in e.message
    ]
    assert errors == []


def test_operation_names_are_unique_and_readable() -> None:
    names: list[str] = []
    for path in QUERIES:
        for definition in parse(path.read_text(encoding="utf-8")).definitions:
            name = getattr(definition, "name", None)
            if name is not None:
                names.append(name.value)
    assert len(names) == len(set(names))
    assert all(len(n) > 6 and n[0].isupper() for n in names)
