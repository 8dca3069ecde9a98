"""Which journal ``viesus enhance`` keeps: a SQLite file (one process) or a shared batch.

``--journal PATH`` (or none: ``DIR/.viesus-journal.sqlite``) is the embedded SQLite journal,
for one process on one machine. ``--journal postgresql://…`` (or ``VIESUS_JOURNAL``) with
``--batch NAME`` joins a batch shared by many workers (SCALING.md): this process works on the
items it claims, the others on theirs. The DSN may carry a password: it is shown only as
``host:port/database`` (:func:`viesus._journal.postgres.journal.redact_dsn`); better keep the
password out of the command line (``PGPASSWORD``, ``~/.pgpass`` or ``VIESUS_JOURNAL``), where
``ps`` shows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from viesus._cli.errors import MissingExtra, UsageProblem
from viesus._cli.pdf_prices import is_pdf
from viesus._cli.records import REPORT_NAME
from viesus._journal.postgres.journal import default_worker_id, is_postgres_url, redact_dsn

JOURNAL_NAME = ".viesus-journal.sqlite"


@dataclass(frozen=True)
class SharedJournal:
    """A batch in a PostgreSQL journal, as this worker joins it."""

    dsn: str
    batch: str
    worker: str
    lease: float | None  # seconds; None: the toolkit's default (60 s)

    @property
    def shown(self) -> str:
        """The journal as reports and messages may show it (no credentials)."""
        return redact_dsn(self.dsn)

    def report_name(self) -> str:
        """One report per worker: the workers of a batch share the output folder."""
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{self.batch}-{self.worker}")
        return f"viesus-report-{safe}.json"


@dataclass(frozen=True)
class JournalChoice:
    """Either ``path`` (SQLite) or ``shared`` (PostgreSQL batch)."""

    path: Path | None
    shared: SharedJournal | None

    def report_path(self, out: Path) -> Path:
        return out / (self.shared.report_name() if self.shared else REPORT_NAME)


def choose_journal(
    journal: str | None,
    batch: str | None,
    lease: float | None,
    *,
    out: Path | None,
    local: bool,
    sources: list[str],
) -> JournalChoice:
    """Check the journal flags together; every misuse is a one-line usage error naming the fix
    (the DSN itself never appears in one)."""
    if not is_postgres_url(journal):
        if batch is not None:
            raise UsageProblem(
                "--batch names a batch in a shared journal: add --journal "
                "postgresql://USER@HOST/DB (or drop --batch; a journal file serves one process)"
            )
        if lease is not None:
            raise UsageProblem("--lease applies to a shared journal (--journal postgresql://…)")
        if journal:
            return JournalChoice(Path(journal).expanduser(), None)
        return JournalChoice(None if out is None else out / JOURNAL_NAME, None)
    assert journal is not None
    if not batch:
        raise UsageProblem(
            "a postgresql:// journal is shared by many workers: name the batch they share "
            "with --batch NAME (e.g. --batch lab-2026-11-30)"
        )
    if local:
        raise UsageProblem(
            "--local runs a private emulator that other workers cannot reach: drop --local "
            "to share a batch, or drop --journal/--batch"
        )
    pdfs = [s for s in sources if is_pdf(s)]
    if pdfs:
        raise UsageProblem(
            f"{pdfs[0]}: PDF sources are not shared across workers yet; enhance them in a run "
            "without --batch"
        )
    try:
        import psycopg  # noqa: F401 - the optional driver: checked before anything is planned
    except ImportError:
        raise MissingExtra("a postgresql:// journal", "postgres") from None
    return JournalChoice(None, SharedJournal(journal, batch, default_worker_id(), lease))
