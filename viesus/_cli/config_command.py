"""``viesus config show``: the effective configuration (file, environment, flags), key hidden.

It takes the same ``--config`` file and the same generated parameter flags as ``enhance``, so
a lab can see exactly what a run would send before running it.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import typer

from viesus._cli.parameters import Flag, options_from_flags, signature_parameters
from viesus._cli.settings import describe, effective, endpoint_from


def make_show_command(flags: Sequence[Flag]) -> Callable[..., None]:
    """``config show`` with one keyword parameter per generated flag."""

    def show(**values: Any) -> None:
        """Print the configuration a run with these settings would use, as JSON."""
        merged = effective(values["config"], flags, options_from_flags(flags, values), {})
        data = describe(
            merged,
            api_key_set=bool(values["api_key"] or os.environ.get("VIESUS_API_KEY")),
            endpoint=endpoint_from(values["endpoint"], merged.batch.endpoint),
        )
        typer.echo(json.dumps(data, indent=2))

    keyword = inspect.Parameter.KEYWORD_ONLY
    fixed = [
        inspect.Parameter(
            "config",
            keyword,
            default=typer.Option(None, "--config", help="TOML or JSON file, as for enhance."),
            annotation=Path | None,
        ),
        inspect.Parameter(
            "endpoint",
            keyword,
            default=typer.Option(None, "--endpoint", help="GraphQL endpoint."),
            annotation=str | None,
        ),
        inspect.Parameter(
            "api_key",
            keyword,
            default=typer.Option(
                None, "--api-key", help="API key (only whether one is set is shown)."
            ),
            annotation=str | None,
        ),
    ]
    show.__signature__ = inspect.Signature(fixed + signature_parameters(flags))  # type: ignore[attr-defined]
    return show


def make_app(flags: Sequence[Flag]) -> typer.Typer:
    app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)
    app.command("show")(make_show_command(flags))
    return app
