"""``viesus doctor``: is everything in place to enhance? One line per check, PASS or FAIL.

Checks: the endpoint answers a query sent with the key (a 401/403 is the key refused, a FAIL
that says how to set it; the key itself is never printed); the key is accepted; the live
schema against the SDL this client was generated from (breaking drift fails, non-breaking
drift is reported as a warning: regenerate when convenient); the credits left this period.
No endpoint or a refused key ends the checks (the rest needs both). Exit 1 when any fails.
"""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Annotated, Any

import httpx
import typer

from viesus import AsyncViesus, AuthenticationError, ViesusError
from viesus._cli.connection import Target, connect
from viesus._cli.errors import EXIT_FAILED
from viesus._cli.settings import api_key_from
from viesus._connection_errors import transport_failure
from viesus._redact import redact_url

SET_KEY = "set the right key in VIESUS_API_KEY or pass --api-key"


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
    """Run every check; True when none failed. An endpoint that cannot be reached, or that
    refuses the key, ends the checks: everything after needs both."""
    async with connect(target) as viesus:
        shown = redact_url(viesus.endpoint)
        typer.echo(f"endpoint: {shown} (--local)" if target.local else f"endpoint: {shown}")
        key = {"x-api-key": api_key_from(target.api_key, target.local) or ""}
        status = await _reachable(viesus, key)
        if status is None:
            return False
        if status in (401, 403):
            return _line(False, "API key", f"refused by the endpoint (HTTP {status}); {SET_KEY}")
        ok = _line(status in (200, 400), "endpoint", f"{shown} answered HTTP {status}")
        try:
            credits = await viesus.credits()
        except AuthenticationError as exc:
            return _line(False, "API key", f"refused ({exc}); {SET_KEY}")
        except ViesusError as exc:
            return _line(False, "API key", f"could not check ({exc})")
        _line(True, "API key", "accepted")
        ok = await _schema(viesus, key) and ok
        _line(
            True,
            "credits",
            f"{credits.remaining_credits_this_period} remaining, "
            f"{credits.used_credits_this_period} used this period",
        )
    return ok


async def _reachable(viesus: AsyncViesus, key: dict[str, str]) -> int | None:
    """The HTTP status of a trivial query sent with the key (``None``: no answer, said why).
    With the key, a 401/403 means the key was refused, not that the server wants one."""
    try:
        response = await viesus.http.post(
            viesus.endpoint, json={"query": "{ __typename }"}, headers=key
        )
    except httpx.TransportError as exc:
        _line(False, "endpoint", transport_failure(exc))
        return None
    return response.status_code


async def _schema(viesus: AsyncViesus, key: dict[str, str]) -> bool:
    from graphql import get_introspection_query

    try:
        response = await viesus.http.post(
            viesus.endpoint,
            json={"query": get_introspection_query(descriptions=True)},
            headers=key,
        )
        data = response.json().get("data")
        if not isinstance(data, dict):
            return _line(False, "schema", "introspection returned no data (disabled?)")
        breaking, dangerous, differs = schema_drift(data)
    except httpx.TransportError as exc:
        return _line(False, "schema", f"could not introspect: {transport_failure(exc)}")
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
