"""``--out`` that cannot be an output folder: one usage line naming it, exit 2, nothing made."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import run_cli, write_photos
from tests.cli.test_errors import one_line


@pytest.mark.parametrize(
    ("out", "expected"),
    [
        ("afile", "--out afile: afile is not a folder"),
        ("/dev/full", "--out /dev/full: /dev/full is not a folder"),
        ("afile/sub", "--out afile/sub: afile is not a folder"),
        ("/sys/viesus-out", "--out /sys/viesus-out: the folder cannot be created"),
    ],
)
@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_an_unusable_out_is_one_usage_line(
    out: str, expected: str, dry_run: bool, tmp_path: Path
) -> None:
    write_photos(tmp_path / "in", 1)
    (tmp_path / "afile").write_text("keep me")
    if dry_run and out.startswith("/sys"):
        pytest.skip("a dry run creates no folder, so it cannot know it would fail")

    result = run_cli(
        "enhance", "in", "--out", out, "--local", *(["--dry-run"] if dry_run else []), cwd=tmp_path
    )

    line = one_line(result.stderr)
    assert expected in line
    assert "choose" in line  # the fix
    assert result.returncode == 2
    assert result.stdout == ""
    assert (tmp_path / "afile").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "in"]
