"""CLI help texts are contracts (snapshots): a change to them is a change to the interface."""

from __future__ import annotations

import pytest
from syrupy.assertion import SnapshotAssertion
from typer.testing import CliRunner

from viesus._cli import app


@pytest.mark.parametrize("argv", [["--help"], ["serve", "--help"]], ids=["root", "serve"])
def test_help(argv: list[str], snapshot: SnapshotAssertion) -> None:
    result = CliRunner().invoke(app, argv, env={"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert result.output == snapshot
