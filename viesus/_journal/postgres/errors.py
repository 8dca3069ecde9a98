"""Why a PostgreSQL call failed, in words, and whether waiting can help.

The journal retries a lost database for ``outage_limit`` seconds, which is right for a refused
connection, a timeout or a server starting up or shutting down, and wrong for what the same
try will meet again: a wrong password, role or database, or a malformed DSN. Those must fail
at once with the server's reason. psycopg gives a SQLSTATE where it has one; a failed connect
usually has none (libpq keeps only the message), so the server's words decide then. Nothing
here ever repeats the DSN: libpq's parse errors quote it, password and all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import psycopg

__all__ = ["Failure", "explain"]

# SQLSTATE classes and codes the same connection attempt will meet again.
_PERMANENT_CLASSES: Final = ("28",)  # invalid_authorization_specification, invalid_password
_PERMANENT_CODES: Final = frozenset({"3D000", "42501"})  # no such database; no CONNECT right
# libpq's and the server's words for those, when there is no SQLSTATE (English messages).
_REFUSED_WORDS: Final = re.compile(
    r"authentication failed|does not exist|no pg_hba\.conf entry|no password supplied"
    r"|is not permitted to log in|permission denied",
    re.IGNORECASE,
)
_MALFORMED_WORDS: Final = re.compile(
    r"invalid \S+ value|invalid connection option|invalid URI", re.IGNORECASE
)
_URL: Final = re.compile(r"postgres(?:ql)?://[^\s\"']*", re.IGNORECASE)
_SEVERITY: Final = re.compile(r"^(?:FATAL|ERROR):\s+")
_QUOTED: Final = re.compile(r":?\s*\"[^\"]*\"")


@dataclass(frozen=True)
class Failure:
    """``reason``: one line, in words, without the DSN; ``permanent``: retrying cannot help;
    ``malformed``: the DSN itself is wrong (the server was never asked)."""

    reason: str
    permanent: bool
    malformed: bool = False

    def refusal(self, shown_dsn: str) -> str:
        """The one-line error for a permanent failure (``shown_dsn``: already redacted)."""
        if self.malformed:
            return (
                f"the journal DSN {shown_dsn} is malformed ({self.reason}); give "
                "postgresql://USER@HOST:PORT/DATABASE with --journal or VIESUS_JOURNAL"
            )
        return (
            f"the journal database {shown_dsn} refused the connection: {self.reason}; "
            "check the DSN given with --journal or VIESUS_JOURNAL"
        )


def explain(exc: psycopg.Error) -> Failure:
    """The reason and the verdict for ``exc`` (unknown operational errors count as transient:
    a connection lost mid-batch says many things, and the outage limit bounds the wait)."""
    import psycopg

    reason = _reason(exc)
    parse_error = isinstance(exc, psycopg.ProgrammingError | psycopg.InterfaceError)
    if (parse_error and not exc.sqlstate) or _MALFORMED_WORDS.search(reason):
        # libpq quotes the part it could not parse, which may be the password: drop quotes.
        return Failure(_QUOTED.sub("", reason), True, malformed=True)
    code = exc.sqlstate
    if code is not None:
        return Failure(reason, code[:2] in _PERMANENT_CLASSES or code in _PERMANENT_CODES)
    return Failure(reason, bool(_REFUSED_WORDS.search(reason)))


def _reason(exc: psycopg.Error) -> str:
    """The server's own sentence: libpq's ``… port 5432 failed: FATAL:  <reason>`` unwrapped."""
    primary = exc.diag.message_primary if exc.sqlstate else None
    lines = (primary or str(exc)).strip().splitlines()
    text = _URL.sub("the DSN", lines[0] if lines else "")
    text = text.removeprefix("connection failed: ").removeprefix("connection is bad: ")
    text = text.rsplit(" failed: ", 1)[-1]
    text = _SEVERITY.sub("", text).strip()
    if text[:1].isupper() and text[1:2].islower():  # "Connection refused" mid-sentence
        text = text[0].lower() + text[1:]
    return text or type(exc).__name__
