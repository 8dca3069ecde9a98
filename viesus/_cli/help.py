"""``--help`` that fits an 80-column terminal or a pipe, for commands with long flag names.

typer's rich help is a table that cuts a long flag name (``--noise-reduction-prof…``) to fit
and shows type tags (``<bool>``, ``<list[str]>``); the plain click layout (the app's
``rich_markup_mode=None``) gives a flag longer than the name column a line of its own instead.
This command class keeps the rich panels as sections, names each value (``PATH``, ``TEXT``,
``X2|X4``) instead of a tag, and lists ``--debug``: ``main`` strips it from the command line
before parsing (it works anywhere), so it is no option typer knows about.
"""

from __future__ import annotations

from typing import Any

import typer.core

# The context and formatter are typer's vendored click classes (typer._click, private): Any.
DEBUG = ("--debug", "Show the traceback of a failure (works anywhere on the line).")
VALUE_NAMES = {"path": "PATH", "str": "TEXT", "int": "INT", "int range": "INT"}
VALUE_NAMES |= {"float": "NUMBER", "float range": "NUMBER"}


def _value_name(param: typer.core.TyperOption, ctx: Any) -> str:
    label = param.display_type(ctx).removeprefix("<").removesuffix(">")
    return VALUE_NAMES.get(label, label)  # choices stay as they are: X2|X4


class SectionedCommand(typer.core.TyperCommand):
    """A command whose plain help keeps its panels as sections, without type tags."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        for param in self.params:
            if param.metavar is not None:
                continue
            if isinstance(param, typer.core.TyperArgument):
                param.metavar = (param.name or "value").upper()
            elif isinstance(param, typer.core.TyperOption) and not param.is_flag:
                param.metavar = _value_name(param, ctx)
        super().format_help(ctx, formatter)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if isinstance(param, typer.core.TyperArgument):
                name = (param.metavar or "") + ("..." if param.nargs != 1 else "")
                sections.setdefault("Arguments", []).append((name, record[1]))
            else:
                title = getattr(param, "rich_help_panel", None) or "Options"
                sections.setdefault(title, []).append(record)
        options = sections.setdefault("Options", [])
        options.insert(max(len(options) - 1, 0), DEBUG)  # before --help, the last one
        for title, rows in sections.items():
            with formatter.section(title):
                formatter.write_dl(rows)


def use_sectioned_help(app: typer.Typer) -> None:
    """Make every command of ``app`` and its sub-apps a SectionedCommand (unless one chose a
    class of its own: typer gives TyperCommand), so all help reads alike and lists --debug."""
    for info in app.registered_commands:
        if info.cls in (None, typer.core.TyperCommand):
            info.cls = SectionedCommand
    for group in app.registered_groups:
        if group.typer_instance is not None:
            use_sectioned_help(group.typer_instance)
