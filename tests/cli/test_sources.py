"""Source discovery: folders (recursive, images and PDFs), globs, URLs, lists, stdin."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from viesus._cli.errors import UsageProblem
from viesus._cli.sources import discover


def touch(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return str(path)


def test_folders_are_searched_recursively_for_images_and_pdfs(tmp_path: Path) -> None:
    a = touch(tmp_path / "a.JPG")
    b = touch(tmp_path / "sub" / "deeper" / "b.pdf")
    c = touch(tmp_path / "sub" / "c.webp")
    touch(tmp_path / "notes.txt")
    touch(tmp_path / ".hidden.png")
    assert discover([str(tmp_path)]).sources == [a, c, b]


def test_duplicates_keep_their_first_place(tmp_path: Path) -> None:
    a = touch(tmp_path / "a.png")
    b = touch(tmp_path / "b.png")
    url = "https://example.com/x.jpg"
    found = discover([b, str(tmp_path), url, url, "-"], stdin=io.StringIO(f"{a}\n{url}\n"))
    assert found.sources == [b, a, url]


def test_glob_and_list_file(tmp_path: Path) -> None:
    a = touch(tmp_path / "2024" / "a.tif")
    b = touch(tmp_path / "2025" / "b.tif")
    listing = tmp_path / "order.txt"
    listing.write_text(f"# comment\n\n{b}\n")
    assert discover([str(tmp_path / "*" / "a.tif"), f"@{listing}"]).sources == [a, b]


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("nope.jpg", "no such file or folder"),
        ("*.nothing", "the pattern matches no image or PDF"),
        ("@missing.txt", "cannot read the list"),
    ],
)
def test_arguments_that_yield_nothing_are_errors(
    argument: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageProblem, match=message) as raised:
        discover([argument])
    assert argument in str(raised.value)


def test_nested_lists_are_refused(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("@other.txt\n")
    with pytest.raises(UsageProblem, match="nested lists"):
        discover([f"@{listing}"])


@pytest.mark.parametrize("url", ["HTTP://example.com/X.JPG", "Https://example.com/y.png"])
def test_a_scheme_in_any_case_is_a_url_not_a_path(url: str) -> None:
    from viesus._journal.keys import source_id

    assert discover([url]).sources == [url]
    assert source_id(url).startswith("url:")  # the journal agrees: one definition
