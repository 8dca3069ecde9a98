"""``viesus serve``: run the emulator from the command line until Ctrl-C (or SIGTERM).

Only the configuration is imported at module level; the server (ariadne, OpenCV) is loaded
when the command runs, so the rest of the CLI works without the ``emulator`` extra.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import signal
from typing import Annotated

import typer

from viesus_emulator.config import DEFAULT_API_KEY, EmulatorConfig, FaultConfig

Rate = Annotated[float, typer.Option(min=0.0, max=1.0)]


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8765,
    api_key: Annotated[
        list[str] | None,
        typer.Option(
            "--api-key", help=f"Accepted x-api-key (repeatable; default {DEFAULT_API_KEY!r})."
        ),
    ] = None,
    time_scale: Annotated[
        float, typer.Option(min=0.0, help="Multiplier of the modelled 2-180 s processing time.")
    ] = 1.0,
    workers: Annotated[int, typer.Option(min=1, help="Jobs processed at the same time.")] = 4,
    credits: Annotated[int, typer.Option(min=0, help="Credit allowance per period.")] = 1000,
    max_root_fields: Annotated[
        int | None, typer.Option(min=1, help="Refuse documents with more root fields (aliases).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the fault draws and the engine.")] = 0,
    fault_500: Annotated[float, typer.Option(min=0.0, max=1.0, help="P(HTTP 500).")] = 0.0,
    fault_429: Annotated[float, typer.Option(min=0.0, max=1.0, help="P(HTTP 429).")] = 0.0,
    fault_drop: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="P(connection dropped, nothing done).")
    ] = 0.0,
    fault_lost_response: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="P(operation executed, then connection dropped)."),
    ] = 0.0,
    fault_latency: Annotated[float, typer.Option(min=0.0, help="Added latency, seconds.")] = 0.0,
    fault_latency_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="P(latency is added).")
    ] = 0.0,
    job_error_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="P(a job ends ERROR PROCESSING_FAILED).")
    ] = 0.0,
    quiet: Annotated[bool, typer.Option(help="No access log.")] = False,
) -> None:
    """Run a local VIESUS Cloud emulator (GraphQL API, real image processing, webhooks)."""
    try:
        faults = FaultConfig(
            http_500=fault_500,
            http_429=fault_429,
            drop=fault_drop,
            lost_response=fault_lost_response,
            latency=fault_latency,
            latency_rate=fault_latency_rate,
            job_error_rate=job_error_rate,
        )
        config = EmulatorConfig(
            api_keys=tuple(api_key or (DEFAULT_API_KEY,)),
            host=host,
            port=port,
            time_scale=time_scale,
            workers=workers,
            credits=credits,
            max_root_fields=max_root_fields,
            faults=faults,
            seed=seed,
            access_log=not quiet,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    asyncio.run(_serve(config, show_key=api_key is None))


async def _serve(config: EmulatorConfig, *, show_key: bool) -> None:
    from viesus_emulator.runner import Emulator

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Emulator(config) as emu:
        # The default key is public knowledge; a key given on the command line is not echoed.
        key = config.api_keys[0] if show_key else "YOUR_KEY"
        body = '{"query":"{ credits { usedCreditsThisPeriod remainingCreditsThisPeriod } }"}'
        typer.echo(f"VIESUS emulator listening on {emu.endpoint}", err=False)
        typer.echo("Try:")
        typer.echo(
            f"  curl -s {emu.endpoint} -H 'content-type: application/json' "
            f"-H {shlex.quote('x-api-key: ' + key)} -d {shlex.quote(body)}"
        )
        typer.echo(f"Stats: {emu.base_url}/stats    (Ctrl-C to stop)", err=False)
        await stop.wait()
    typer.echo("emulator stopped")
