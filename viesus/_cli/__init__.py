"""The ``viesus`` command line: one typer app, one module per command group.

``enhance`` (enhance.py), ``config show`` (config_command.py), ``credits`` / ``jobs`` /
``webhooks`` (account.py), ``pdf analyze`` (pdf_command.py), ``doctor`` (doctor.py), ``serve``
(serve.py: the emulator, imported when it runs), ``batch status|retry-failed``
(shared_batch_command.py: a batch shared in a PostgreSQL journal). Errors end as one line on
stderr with a fixed exit code (errors.py); ``--debug`` anywhere on the command line adds the
traceback.
"""

from __future__ import annotations

import sys
import traceback
from typing import Annotated

import typer

from viesus import InvalidInput, ViesusError, __version__
from viesus._cli import account, config_command, doctor, pdf_command, serve, shared_batch_command
from viesus._cli.enhance import make_command
from viesus._cli.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    MissingExtra,
    UsageProblem,
    missing_extra,
)
from viesus._cli.help import use_sectioned_help
from viesus._cli.text import printable
from viesus._errors import JournalConfigurationError
from viesus_client.enhancement_parameters import PARAMETERS

app = typer.Typer(
    name="viesus",
    help="VIESUS Cloud toolkit: enhance images and PDFs, and run a local emulator of the API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: long flag names in full at 80 columns (help.py)
    context_settings={"max_content_width": 100},
)
enhance_command, ENHANCE_FLAGS = make_command(PARAMETERS)
app.command("enhance", no_args_is_help=True)(enhance_command)
app.add_typer(config_command.make_app(ENHANCE_FLAGS), name="config")
app.command("credits")(account.credits)
app.add_typer(account.jobs_app, name="jobs")
app.add_typer(account.webhooks_app, name="webhooks")
app.add_typer(pdf_command.pdf_app, name="pdf")
app.command("doctor")(doctor.doctor)
app.command("serve")(serve.serve)
app.add_typer(shared_batch_command.app, name="batch")
use_sectioned_help(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"viesus-toolkit {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """VIESUS Cloud toolkit. Add --debug anywhere to see tracebacks."""


def _one_line(message: str) -> str:
    """One line, whitespace collapsed, other control characters (from names) escaped."""
    return printable(" ".join(message.split()))


def _classify(exc: BaseException, command: str) -> tuple[int, str | None]:
    """The exit code and the one-line message for a failure (None: nothing to add)."""
    if isinstance(exc, typer.Exit):
        return int(getattr(exc, "exit_code", 0)), None
    if isinstance(exc, typer.Abort | KeyboardInterrupt):
        return EXIT_INTERRUPTED, "interrupted"
    if isinstance(exc, typer.TyperException):
        # typer's usage errors (bad flag, bad value, missing argument) carry exit code 2.
        code = int(getattr(exc, "exit_code", EXIT_FAILED))
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        ctx = getattr(exc, "ctx", None)
        where = getattr(ctx, "command_path", None) or "viesus"
        if type(exc).__name__ == "NoArgsIsHelpError":  # called bare: the message is the help
            typer.echo(message.rstrip("\n"))
            return code, None
        hint = f" (see '{where} --help')" if code == EXIT_USAGE else ""
        return code, _one_line(message) + hint
    if isinstance(exc, UsageProblem | InvalidInput | JournalConfigurationError):
        return EXIT_USAGE, _one_line(str(exc))
    if isinstance(exc, ModuleNotFoundError):
        problem = missing_extra(exc, command)
        if problem is not None:
            return EXIT_FAILED, str(problem)
    if isinstance(exc, MissingExtra | ViesusError):
        return EXIT_FAILED, _one_line(str(exc))
    return EXIT_FAILED, (
        f"unexpected {type(exc).__name__}: {_one_line(str(exc))} "
        "(rerun with --debug for the traceback)"
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turn every failure into one line and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    try:
        result = app(args=args, prog_name="viesus", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except SystemExit:
        raise
    except BaseException as exc:  # every failure ends as one line (and a traceback on --debug)
        command = "viesus " + next((a for a in args if not a.startswith("-")), "")
        code, message = _classify(exc, command.strip())
        if debug and not isinstance(exc, typer.Exit):
            traceback.print_exception(exc)
        if message is not None:
            typer.echo(f"viesus: error: {message}", err=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
