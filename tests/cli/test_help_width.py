"""``viesus enhance --help`` at 80 columns, piped: every flag in full, no type tags, --debug."""

from __future__ import annotations

import re

import pytest
import typer

from tests.cli.conftest import run_cli
from viesus._cli import app


def enhance_flags() -> list[str]:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    command = group.commands["enhance"]
    names = [n for p in command.params for n in (*p.opts, *p.secondary_opts) if n.startswith("-")]
    assert len(names) > 40  # the fixed options and the generated enhancement flags
    return [*names, "--debug", "--help"]


@pytest.mark.parametrize("columns", ["80", "60"])
def test_every_flag_is_shown_in_full(columns: str) -> None:
    result = run_cli("enhance", "--help", env={"COLUMNS": columns})
    assert result.returncode == 0, result.stderr
    text = result.stdout
    missing = [n for n in enhance_flags() if not re.search(rf"(?<![\w-]){n}(?![\w-])", text)]
    assert missing == []
    assert "…" not in text
    assert re.findall(r"<[a-z][^>]*>", text) == []  # no <bool>, <list[str]>, <path> tags
    assert max(len(line) for line in text.splitlines()) <= int(columns)
    assert "Enhancement parameters (EnhancedImageInput)" in text  # the section stays
