"""``viesus config show``: the effective configuration (file, environment, flags), key hidden."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from viesus._cli.settings import describe, effective, endpoint_from

app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)


@app.command("show")
def show(
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML or JSON file, as for enhance.")
    ] = None,
    endpoint: Annotated[str | None, typer.Option("--endpoint", help="GraphQL endpoint.")] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="API key (only whether it is set is shown).")
    ] = None,
) -> None:
    """Print the configuration a run with these settings would use, as JSON."""
    from viesus._cli import ENHANCE_FLAGS

    merged = effective(config, ENHANCE_FLAGS, {}, {})
    data = describe(
        merged,
        api_key_set=bool(api_key or os.environ.get("VIESUS_API_KEY")),
        endpoint=endpoint_from(endpoint, merged.batch.endpoint),
    )
    typer.echo(json.dumps(data, indent=2))
