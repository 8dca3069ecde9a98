"""``@list.txt`` and ``-`` are read line by line with caps: a huge, endless or binary list is
one usage line naming the list and the line (shortened, escaped), exit 2, in bounded memory."""

from __future__ import annotations

import resource
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import cli_env, viesus_argv, write_photos
from tests.cli.test_errors import one_line

MEMORY = 1536 * 1024 * 1024  # address space the CLI gets: a list read whole would exceed it


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run_limited(*args: str, cwd: Path, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = subprocess.run(
        viesus_argv(*args),
        capture_output=True,
        env=cli_env(),
        cwd=cwd,
        input=stdin,
        timeout=60,
        check=False,
        preexec_fn=limited,  # a plain rlimit before exec
    )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"in/photo0.jpg\n" + b"a" * 5_000_000 + b"\n", "line 2: longer than 8,192 bytes"),
        (b"in/photo0.jpg\nin/ph\x00oto0.jpg\n", "line 2: binary content (a NUL byte)"),
        (b"\xff\xd8\xff\xe0 JFIF\n", "line 1: not UTF-8 text"),
    ],
    ids=["5-MB-line", "NUL", "not-UTF-8"],
)
def test_a_bad_list_file_is_one_usage_line(content: bytes, expected: str, tmp_path: Path) -> None:
    write_photos(tmp_path / "in", 1)
    (tmp_path / "list.txt").write_bytes(content)
    code, _, stderr = run_limited("enhance", "@list.txt", "--out", "o", cwd=tmp_path)
    line = one_line(stderr)
    assert f"@list.txt {expected}" in line
    assert "one path or URL per line" in line  # the fix
    assert len(line) < 400  # the line itself is shortened, never echoed whole
    assert "\x00" not in line
    assert code == 2
    assert not (tmp_path / "o").exists()


def test_an_endless_list_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    code, _, stderr = run_limited("enhance", "@/dev/zero", "--out", "o", cwd=tmp_path)
    line = one_line(stderr)
    assert "@/dev/zero line 1: binary content" in line
    assert "\\x00" in line  # the line shown is escaped
    assert code == 2


def test_stdin_is_capped_the_same_way(tmp_path: Path) -> None:
    code, _, stderr = run_limited("enhance", "-", "--out", "o", cwd=tmp_path, stdin=b"b" * 100_000)
    assert "stdin line 1: longer than 8,192 bytes" in one_line(stderr)
    assert code == 2
