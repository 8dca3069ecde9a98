"""``codegen diff``: each kind of schema change gets the verdict a reviewer expects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from codegen.diff import DiffError, diff_sdl
from tests.codegen.conftest import ROOT

BASE = """
type Query {
  "One upload."
  upload(id: ID!): Upload
}
type Upload {
  id: ID!
  url: String
  status: UploadStatus!
}
enum UploadStatus { UPLOAD_PENDING UPLOAD_FINISHED UPLOAD_FAILED }
"""

CASES: dict[str, tuple[str, str, str]] = {
    # name: (old text, new text, expected verdict)
    "removed field": ("  url: String\n", "", "breaking"),
    "removed enum value": (" UPLOAD_FAILED }", " }", "breaking"),
    "added required argument": ("upload(id: ID!)", "upload(id: ID!, scope: String!)", "breaking"),
    "changed type": ("  url: String\n", "  url: Int\n", "breaking"),
    "added optional argument": ("upload(id: ID!)", "upload(id: ID!, scope: String)", "dangerous"),
    "added optional field": ("  url: String\n", "  url: String\n  width: Int\n", "safe"),
    "added enum value": (" UPLOAD_FAILED }", " UPLOAD_FAILED UPLOAD_EXPIRED }", "dangerous"),
    "deprecation": (
        "  url: String\n",
        '  url: String @deprecated(reason: "use files")\n',
        "safe",
    ),
    "description": ('"One upload."', '"One upload record."', "safe"),
    "no change": ("", "", "none"),
}


@pytest.mark.parametrize("name", CASES)
def test_verdicts(name: str) -> None:
    old, new, verdict = CASES[name]
    result = diff_sdl(BASE, BASE.replace(old, new) if old else BASE)
    assert result.verdict == verdict, result.report()
    assert result.is_breaking == (verdict == "breaking")


def test_report_groups_changes() -> None:
    new = BASE.replace("  url: String\n", "  width: Int\n").replace(
        " UPLOAD_FAILED }", " UPLOAD_FAILED UPLOAD_EXPIRED }"
    )
    report = diff_sdl(BASE, new).report()
    assert report.splitlines() == [
        "Breaking changes (1):",
        "  - FIELD_REMOVED: Upload.url was removed.",
        "Dangerous changes (1):",
        "  - VALUE_ADDED_TO_ENUM: UPLOAD_EXPIRED was added to enum type UploadStatus.",
        "Safe changes (1):",
        "  - FIELD_ADDED: Upload.width was added.",
    ]


def test_invalid_sdl_is_a_clear_error() -> None:
    with pytest.raises(DiffError, match="NEW is not a valid GraphQL SDL"):
        diff_sdl(BASE, "type {")


@pytest.mark.parametrize(("name", "exit_code"), [("removed field", 1), ("added enum value", 0)])
def test_cli_exits_1_exactly_on_breaking(name: str, exit_code: int, tmp_path: Path) -> None:
    old, new, _ = CASES[name]
    (tmp_path / "a.graphql").write_text(BASE)
    (tmp_path / "b.graphql").write_text(BASE.replace(old, new))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "codegen",
            "diff",
            str(tmp_path / "a.graphql"),
            str(tmp_path / "b.graphql"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == exit_code, result.stdout + result.stderr


def test_cli_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "codegen", "diff", str(tmp_path / "nope.graphql"), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "cannot read" in result.stderr


def test_committed_schema_against_itself_is_unchanged(committed_sdl: str) -> None:
    assert diff_sdl(committed_sdl, committed_sdl).verdict == "none"
