"""``viesus doctor``: is everything in place to enhance? One line per check, PASS or FAIL.

Checks, each independent of the ones before where possible: the endpoint answers GraphQL; the
key is accepted; the live schema against the SDL this client was generated from (breaking
drift fails, non-breaking drift is reported as a warning: regenerate when convenient); the
credits left this period. Exit 1 when any check fails.
"""

from __future__ import annotations

import asyncio
import os
from importlib import resources
from typing import Annotated, Any

import httpx
import typer

from viesus import AuthenticationError, Viesus, ViesusError
from viesus._cli.connection import Target, connect
from viesus._cli.errors import EXIT_FAILED


def _line(ok: bool | None, name: str, detail: str) -> bool:
    mark = {True: "PASS", False: "FAIL", None: "WARN"}[ok]
    typer.echo(f"{mark}  {name}: {detail}")
    return ok is not False


def schema_drift(introspection: dict[str, Any]) -> tuple[list[str], list[str], bool]:
    """Breaking changes, dangerous changes, and whether anything else differs."""
    from graphql import (
        build_client_schema,
        build_schema,
        find_breaking_changes,
        find_dangerous_changes,
        lexicographic_sort_schema,
        print_schema,
    )

    sdl = resources.files("viesus_client").joinpath("schema.graphql").read_text("utf-8")
    committed = build_schema(sdl)
    live = build_client_schema(introspection)  # type: ignore[arg-type]
    breaking = [c.description for c in find_breaking_changes(committed, live)]
    dangerous = [c.description for c in find_dangerous_changes(committed, live)]
    differs = print_schema(lexicographic_sort_schema(committed)) != print_schema(
        lexicographic_sort_schema(live)
    )
    return breaking, dangerous, differs


async def _checks(target: Target) -> bool:
    """Run every check; True when none failed."""
    async with connect(target) as viesus:
        where = f"{viesus.endpoint} (--local)" if target.local else viesus.endpoint
        typer.echo(f"endpoint: {where}")
        ok = await _reachable(viesus)
        try:
            credits = await viesus.credits()
        except AuthenticationError as exc:
            _line(False, "API key", f"refused ({exc})")
            return False
        except ViesusError as exc:
            _line(False, "API key", f"could not check ({exc})")
            return False
        _line(True, "API key", "accepted")
        ok = await _schema(viesus, target) and ok
        _line(
            True,
            "credits",
            f"{credits.remaining_credits_this_period} remaining, "
            f"{credits.used_credits_this_period} used this period",
        )
    return ok


async def _reachable(viesus: Viesus) -> bool:
    try:
        response = await viesus.http.post(viesus.endpoint, json={"query": "{ __typename }"})
    except httpx.HTTPError as exc:
        return _line(False, "endpoint", f"{viesus.endpoint} unreachable ({type(exc).__name__})")
    # 200, or 401/403 from a server that wants a key first: either way GraphQL is there.
    answered = response.status_code in (200, 400, 401, 403)
    return _line(answered, "endpoint", f"{viesus.endpoint} answered HTTP {response.status_code}")


async def _schema(viesus: Viesus, target: Target) -> bool:
    from graphql import get_introspection_query

    key = "local" if target.local else (target.api_key or os.environ.get("VIESUS_API_KEY", ""))
    try:
        response = await viesus.http.post(
            viesus.endpoint,
            json={"query": get_introspection_query(descriptions=True)},
            headers={"x-api-key": key},
        )
        data = response.json().get("data")
        if not isinstance(data, dict):
            return _line(False, "schema", "introspection returned no data (disabled?)")
        breaking, dangerous, differs = schema_drift(data)
    except (httpx.HTTPError, ValueError, TypeError) as exc:
        return _line(False, "schema", f"could not introspect ({type(exc).__name__})")
    if breaking:
        return _line(False, "schema", f"breaking drift: {'; '.join(breaking[:3])}")
    if dangerous or differs:
        what = "; ".join(dangerous[:3]) or "additions or description changes"
        return _line(None, "schema", f"non-breaking drift ({what}); regenerate when convenient")
    return _line(True, "schema", "live schema matches the committed SDL")


def doctor(
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="API key (default: VIESUS_API_KEY).")
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="GraphQL endpoint (default: VIESUS_ENDPOINT).")
    ] = None,
    local: Annotated[bool, typer.Option("--local", help="Check an in-process emulator.")] = False,
) -> None:
    """Check endpoint, key, schema drift and credits; one line per check."""
    if not asyncio.run(_checks(Target(api_key, endpoint, local))):
        raise typer.Exit(EXIT_FAILED)
