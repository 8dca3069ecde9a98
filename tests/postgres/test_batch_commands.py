"""``viesus batch status|retry-failed`` (shared_batch_command.py) against a real journal."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from viesus._cli.shared_batch_command import app
from viesus._journal.postgres.journal import BatchSettings, PostgresJournal
from viesus._journal.store import ItemKey

PARAMS = "p" * 64


def make_batch(dsn: str) -> None:
    store = PostgresJournal.open(dsn, "lab", worker_id="w1")
    try:
        store.join(BatchSettings(PARAMS, "/out", cost=1, max_credits=10))
        keys = [ItemKey(f"file:/in/{n}.jpg", PARAMS) for n in range(3)]
        store.enqueue([(k, k.source_id) for k in keys])
        store.claim(3)
        store.settle([(keys[0], "failed", "UNSUPPORTED_FORMAT"), (keys[1], "finished", None)])
    finally:
        store.close()


def test_status_shows_outcomes_workers_and_budget(pg_dsn: str) -> None:
    make_batch(pg_dsn)
    result = CliRunner().invoke(app, ["status", "lab", "--journal", pg_dsn])
    assert result.exit_code == 0, result.output
    assert "batch lab in postgresql://127.0.0.1:" in result.output
    assert "2/3 settled, 1 open" in result.output
    assert "outcomes: failed 1, finished 1, open 1" in result.output
    assert "0 of 10 reserved" in result.output
    assert "worker w1 (pid " in result.output
    as_json = CliRunner().invoke(app, ["status", "lab", "--journal", pg_dsn, "--json"])
    document = json.loads(as_json.output)
    assert document["outcomes"] == {"failed": 1, "finished": 1, "open": 1}
    assert [w["worker"] for w in document["workers"]] == ["w1"]


def test_retry_failed_reopens_the_failed_items(pg_dsn: str) -> None:
    make_batch(pg_dsn)
    result = CliRunner().invoke(app, ["retry-failed", "lab", "--journal", pg_dsn])
    assert result.exit_code == 0, result.output
    assert "1 failed item(s) reopened" in result.output
    status = CliRunner().invoke(app, ["status", "lab", "--journal", pg_dsn, "--json"])
    assert json.loads(status.output)["outcomes"] == {"finished": 1, "open": 2}


def test_a_path_or_an_empty_database_is_refused_without_creating_anything(pg_dsn: str) -> None:
    path = CliRunner().invoke(
        app, ["status", "lab", "--journal", "out/.viesus-journal.sqlite"], env={"COLUMNS": "200"}
    )
    assert path.exit_code == 2
    assert "pass --journal postgresql://" in path.output
    empty = CliRunner().invoke(app, ["status", "lab", "--journal", pg_dsn])
    assert empty.exit_code == 1
    assert "holds no viesus journal" in str(empty.exception)
