"""Names as a human sees them: control characters escaped in every human line, the source
named once in a failure; machine outputs (report, --events-jsonl) keep the real name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.cli.conftest import run_cli, write_photos
from tests.cli.test_errors import one_line

RED = "red\x1b[31m.jpg"  # not an image: it fails
NEWLINE = "new\nline [bold]x.jpg"  # a real photo: it is enhanced


def folder_with_odd_names(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    (photo,) = write_photos(folder, 1)
    shutil.move(photo, folder / NEWLINE)
    (folder / RED).write_text("not an image")
    return folder


def test_control_characters_are_escaped_in_progress_and_summary(tmp_path: Path) -> None:
    folder_with_odd_names(tmp_path)
    result = run_cli("enhance", "in", "--out", "o", "--local", "--events-jsonl", "ev.jsonl",
                     cwd=tmp_path)  # fmt: skip

    assert "\x1b" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len([line for line in lines if line.startswith("[")]) == 2, result.stdout  # no forgery
    assert any(line.startswith("[") and "in/new\\nline [bold]x.jpg" in line for line in lines)
    assert any(line.startswith("failed: in/red\\x1b[31m.jpg: is not a supported") for line in lines)
    # Machine outputs keep the real names (JSON escapes them).
    report = json.loads((tmp_path / "o" / "viesus-report.json").read_text())
    assert {item["source"] for item in report["items"]} == {f"in/{RED}", f"in/{NEWLINE}"}
    events = [json.loads(line) for line in (tmp_path / "ev.jsonl").read_text().splitlines()]
    assert any(item["source"] == f"in/{RED}" for item in events[0]["items"])


def test_a_failure_names_its_source_once(tmp_path: Path) -> None:
    write_photos(tmp_path, 1)
    (tmp_path / "bad.jpg").write_text("not an image")
    result = run_cli("enhance", "photo0.jpg", "bad.jpg", "--out", "o", "--local", cwd=tmp_path)
    assert "bad.jpg: bad.jpg" not in result.stdout
    lines = result.stdout.splitlines()
    assert any(line.startswith("failed: bad.jpg: is not a supported image") for line in lines)
    assert "[1/2] failed bad.jpg -> is not a supported image" in result.stdout
    assert result.returncode == 1


def test_the_dry_run_table_escapes_names(tmp_path: Path) -> None:
    folder_with_odd_names(tmp_path)
    result = run_cli("enhance", "in", "--dry-run", "--local", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "red\\x1b[31m.jpg" in result.stdout
    assert "new\\nline [bold]x.jpg" in result.stdout  # no markup read from a name either


def test_error_lines_escape_names(tmp_path: Path) -> None:
    result = run_cli("enhance", "nope\x1b[2J.jpg", "--out", "o", cwd=tmp_path)
    line = one_line(result.stderr)
    assert "nope\\x1b[2J.jpg: " in line
    assert result.returncode == 2
