"""``viesus batch status NAME`` and ``viesus batch retry-failed NAME``: a batch shared by many
workers in a PostgreSQL journal (see SCALING.md).

Both talk to the journal only (no API key needed): ``status`` shows the items per outcome and
per journal state, each worker (where it runs, what it holds, what it settled, when it was
last seen), the credits spent and reserved against the batch's budget, and an ETA from the last
minute's rate; ``retry-failed`` reopens the items that failed, for the workers to take again
(what a retry may do is decided by each item's record: nothing is ever created twice). Neither
creates tables: a database without a journal is reported as such.

Journal errors (no journal there, database unreachable) end as the CLI's one-line errors.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from viesus._journal.postgres.journal import (
    BatchStatus,
    PostgresJournal,
    is_postgres_url,
    redact_dsn,
)

app = typer.Typer(
    help="Batches shared by many workers in a PostgreSQL journal.", no_args_is_help=True
)

Name = Annotated[str, typer.Argument(help="The batch name the workers were started with.")]
JournalUrl = Annotated[
    str,
    typer.Option(
        "--journal",
        envvar="VIESUS_JOURNAL",
        help="The shared journal, postgresql://USER@HOST/DB (default: VIESUS_JOURNAL).",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _open(journal: str, name: str) -> PostgresJournal:
    if not is_postgres_url(journal):
        raise typer.BadParameter(
            "batches live in a shared journal: pass --journal postgresql://USER@HOST/DB",
            param_hint="--journal",
        )
    return PostgresJournal.open(journal, name, migrate=False, outage_limit=10.0)


@app.command("status")
def status(name: Name, journal: JournalUrl, as_json: Json = False) -> None:
    """Items per outcome and state, per worker, credits, ETA."""
    store = _open(journal, name)
    try:
        report = store.status()
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(_as_dict(report), indent=2, default=str))
        return
    for line in render(report, redact_dsn(journal)):
        typer.echo(line)


@app.command("retry-failed")
def retry_failed(name: Name, journal: JournalUrl) -> None:
    """Reopen the batch's failed items; running workers (or the next one) take them."""
    store = _open(journal, name)
    try:
        reopened = store.retry_failed()
    finally:
        store.close()
    typer.echo(f"batch {name}: {reopened} failed item(s) reopened")


def render(report: BatchStatus, where: str) -> list[str]:
    """The human-readable status, one line each."""
    done = report.total - report.open
    lines = [f"batch {report.name} in {where}: {done}/{report.total} settled, {report.open} open"]
    lines.append("  outcomes: " + _counts(report.outcomes))
    lines.append("  journal states: " + _counts(report.states))
    budget = f" of {report.max_credits}" if report.max_credits is not None else ""
    lines.append(
        f"  credits: {report.credits_spent} spent, {report.credits_committed}{budget} reserved"
    )
    eta = report.eta_seconds
    if eta == 0:
        lines.append("  eta: done")
    elif eta is None:
        lines.append("  eta: unknown (nothing settled in the last minute)")
    else:
        lines.append(f"  eta: {eta:.0f} s at {report.settled_last_minute} items/min")
    for worker in report.workers:
        lines.append(
            f"  worker {worker.worker} (pid {worker.pid} on {worker.host}): holds "
            f"{worker.holding}, settled {worker.settled}, last seen {worker.last_seen:%H:%M:%S}"
        )
    return lines


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"


def _as_dict(report: BatchStatus) -> dict[str, object]:
    return {
        "name": report.name,
        "total": report.total,
        "open": report.open,
        "outcomes": report.outcomes,
        "states": report.states,
        "credits_spent": report.credits_spent,
        "credits_committed": report.credits_committed,
        "max_credits": report.max_credits,
        "eta_seconds": report.eta_seconds,
        "workers": [vars(worker) for worker in report.workers],
    }
