"""``viesus credits``, ``viesus jobs show ID``, ``viesus webhooks list|create|delete``.

Thin commands over the public client (``AsyncViesus`` and its generated ``viesus.api``). Signed
URLs (a finished job's ``fullUrl``) carry access tokens in their query string: they are shown
without it. A new webhook's secret is printed once, because the service shows it only once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from viesus import AsyncViesus, ViesusError
from viesus._cli.connection import Target, connect
from viesus._cli.records import without_query

T = TypeVar("T")

ApiKey = Annotated[
    str | None, typer.Option("--api-key", help="API key (default: VIESUS_API_KEY; never printed).")
]
Endpoint = Annotated[
    str | None, typer.Option("--endpoint", help="GraphQL endpoint (default: VIESUS_ENDPOINT).")
]
Local = Annotated[bool, typer.Option("--local", help="Use an in-process emulator (offline).")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]

jobs_app = typer.Typer(help="Look at enhancement jobs.", no_args_is_help=True)
webhooks_app = typer.Typer(help="List, create and delete webhooks.", no_args_is_help=True)


def run(target: Target, action: Callable[[AsyncViesus], Awaitable[T]]) -> T:
    async def go() -> T:
        async with connect(target) as viesus:
            return await action(viesus)

    return asyncio.run(go())


def show(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    width = max(len(k) for k in data) if data else 0
    for key, value in data.items():
        typer.echo(f"{key.ljust(width)}  {'-' if value is None else value}")


def credits(
    api_key: ApiKey = None, endpoint: Endpoint = None, local: Local = False, json_: Json = False
) -> None:
    """Credits used and remaining this period."""

    async def action(viesus: AsyncViesus) -> dict[str, Any]:
        c = await viesus.credits()
        return {
            "remaining": c.remaining_credits_this_period,
            "used": c.used_credits_this_period,
            "period_start": c.period_start,
            "period_end": c.period_end,
        }

    show(run(Target(api_key, endpoint, local), action), json_)


@jobs_app.command("show")
def jobs_show(
    job_id: Annotated[str, typer.Argument(help="The enhancement job's id.")],
    api_key: ApiKey = None,
    endpoint: Endpoint = None,
    local: Local = False,
    json_: Json = False,
) -> None:
    """One job's status, duration and error code."""

    async def action(viesus: AsyncViesus) -> dict[str, Any]:
        found = (await viesus.api.get_enhanced_image(job_id)).enhanced_image
        if found is None:
            raise ViesusError(f"job {job_id}: not found (check the id and the account)")
        return {
            "id": found.id,
            "status": getattr(found.status, "value", found.status),
            "error_code": found.error_code,
            "viesus_duration": found.viesus_duration,
            "filename": found.filename,
            "result_url": without_query(found.full_url),
        }

    show(run(Target(api_key, endpoint, local), action), json_)


@webhooks_app.command("list")
def webhooks_list(
    api_key: ApiKey = None, endpoint: Endpoint = None, local: Local = False, json_: Json = False
) -> None:
    """The account's webhooks (at most 5)."""

    async def action(viesus: AsyncViesus) -> list[dict[str, Any]]:
        hooks = (await viesus.api.list_webhooks()).webhooks
        return [
            {"id": h.id, "url": without_query(h.url), "created_at": h.created_at} for h in hooks
        ]

    hooks = run(Target(api_key, endpoint, local), action)
    if json_:
        typer.echo(json.dumps(hooks, indent=2, default=str))
    elif not hooks:
        typer.echo("no webhooks")
    for hook in [] if json_ else hooks:
        typer.echo(f"{hook['id']}  {hook['url']}  {hook['created_at'] or ''}".rstrip())


@webhooks_app.command("create")
def webhooks_create(
    url: Annotated[str, typer.Argument(help="The https URL the service will POST events to.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Delete the oldest webhook when 5 exist.")
    ] = False,
    api_key: ApiKey = None,
    endpoint: Endpoint = None,
    local: Local = False,
) -> None:
    """Register a webhook; prints its secret once (store it: the service never shows it again)."""

    async def action(viesus: AsyncViesus) -> tuple[str, str]:
        made = await viesus.register_webhook(url, replace=replace)
        return made.id, made.secret.get_secret_value()

    webhook_id, secret = run(Target(api_key, endpoint, local), action)
    typer.echo(f"created webhook {webhook_id}")
    typer.echo(f"secret (shown once; verify deliveries with it): {secret}")


@webhooks_app.command("delete")
def webhooks_delete(
    webhook_id: Annotated[str, typer.Argument(help="The webhook's id (see webhooks list).")],
    api_key: ApiKey = None,
    endpoint: Endpoint = None,
    local: Local = False,
) -> None:
    """Delete a webhook."""

    async def action(viesus: AsyncViesus) -> bool:
        return await viesus.remove_webhook(webhook_id)

    if not run(Target(api_key, endpoint, local), action):
        raise ViesusError(f"webhook {webhook_id}: not found (see viesus webhooks list)")
    typer.echo(f"deleted webhook {webhook_id}")
