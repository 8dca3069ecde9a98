"""``--journal PATH`` keeps the embedded SQLite journal, at that path; without it the journal is
``DIR/.viesus-journal.sqlite``. Shared-batch flags without a postgresql:// journal are usage
errors (the shared batch itself: tests/postgres/test_cli_workers.py)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Server, run_cli, write_photos
from viesus import Journal
from viesus._journal.states import ItemState


def test_a_journal_path_keeps_sqlite_there(server: Server, tmp_path: Path) -> None:
    write_photos(tmp_path / "in", 2)
    journal = tmp_path / "elsewhere" / "lab.sqlite"
    journal.parent.mkdir()
    argv = ["enhance", "in", "--out", "out", "--journal", str(journal), "--yes"]
    done = run_cli(*argv, cwd=tmp_path, env=server.env())
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "out" / ".viesus-journal.sqlite").exists()
    with Journal.open(journal) as opened:
        assert [r.state for r in opened.records()] == [ItemState.DOWNLOADED] * 2
    assert "2 enhanced" in done.stdout
    # A rerun with the same journal pays nothing again.
    again = run_cli(*argv, cwd=tmp_path, env=server.env())
    assert "0 enhanced, 2 already done" in again.stdout, again.stdout


def test_batch_flags_need_a_shared_journal(tmp_path: Path) -> None:
    write_photos(tmp_path / "in", 1)
    for extra in (["--batch", "B"], ["--lease", "5"], ["--journal", "j.sqlite", "--batch", "B"]):
        refused = run_cli("enhance", "in", "--out", "out", *extra, cwd=tmp_path)
        assert refused.returncode == 2
        assert refused.stderr.count("\n") == 1  # one line
        assert "postgresql://" in refused.stderr
    local = run_cli(
        "enhance", "in", "--out", "out", "--local", "--journal", "postgresql://h/db",
        "--batch", "B", cwd=tmp_path,
    )  # fmt: skip
    assert local.returncode == 2
    assert "--local runs a private emulator" in local.stderr
