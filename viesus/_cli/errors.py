"""How the CLI fails: one line on stderr, a fixed exit code, a traceback only with --debug.

Exit codes: 0 everything done; 1 something failed (items, the service, a missing extra);
2 usage (bad flag, bad source, bad config, a journal DSN the database refuses for good, a
question only ``--yes`` can answer);
130 interrupted by Ctrl-C (the shell's convention).
"""

from __future__ import annotations

from typing import NoReturn

import typer

from viesus._cli.text import printable

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# Modules that only an extra installs, and the extra to name in the one-line fix.
EXTRA_OF_MODULE = {
    "ariadne": "emulator",
    "numpy": "emulator",
    "cv2": "emulator",
    "pikepdf": "emulator",
    "starlette": "emulator",
    "psycopg": "postgres",
    "obstore": "buckets",
    "skimage": "demo",
    "pypdfium2": "demo",
}


class UsageProblem(Exception):
    """Something the user typed cannot work; the message names it and the fix (exit 2)."""


class MissingExtra(Exception):
    """A command needs an optional dependency that is not installed (exit 1)."""

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(f"{what} needs the '{extra}' extra: pip install 'viesus-toolkit[{extra}]'")


def missing_extra(exc: ModuleNotFoundError, what: str) -> MissingExtra | None:
    """The MissingExtra for an import error of an extra's module, else None."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(top)
    return MissingExtra(what, extra) if extra else None


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    typer.echo(f"viesus: error: {printable(message)}", err=True)
    raise typer.Exit(code)
