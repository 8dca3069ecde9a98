"""The ``viesus`` command line: one typer app, each command in the module of its subject.

Commands register here by name; their modules import heavy dependencies only when they run,
so ``viesus --help`` is fast and works without the optional extras.
"""

from __future__ import annotations

import typer

from viesus_emulator.command import serve

app = typer.Typer(
    name="viesus",
    help="VIESUS Cloud toolkit: enhance images, and run a local emulator of the API.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(serve)


@app.callback()
def _root() -> None:
    """VIESUS Cloud toolkit."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
