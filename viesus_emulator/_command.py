"""``viesus serve``: run the emulator from the command line until Ctrl-C (or SIGTERM).

Only the configuration is imported at module level; the server (ariadne, OpenCV) is loaded
when the command runs, so the rest of the CLI works without the ``emulator`` extra.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import shlex
import signal
from typing import TYPE_CHECKING, Annotated, Any

import typer

from viesus_emulator._config import DEFAULT_API_KEY, EmulatorConfig, FaultConfig

if TYPE_CHECKING:
    from viesus_emulator._runner import Emulator

SERVER = "Server"
LIMITS = "Limits and safety"
FAULTS = "Injected faults (probabilities 0-1)"


def _rate(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise typer.BadParameter(f"a probability between 0 and 1, not {value}")
    return value


def _names(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    names = frozenset(name.strip() for name in value.split(",") if name.strip())
    if not names:
        raise typer.BadParameter("name at least one operation or root field, e.g. Create")
    return names


def _option(help: str, panel: str, metavar: str | None = None, **kw: Any) -> Any:
    """An option in help panel ``panel``; fault options hide their (zero) default."""
    if panel == FAULTS:
        kw.setdefault("show_default", False)
    return typer.Option(help=help, rich_help_panel=panel, metavar=metavar, **kw)


def _repeatable(help_text: str, metavar: str) -> Any:
    """A repeatable server option (``--api-key``, ``--cors-origin``): its flag from the name."""
    return typer.Option(help=help_text, rich_help_panel=SERVER, metavar=metavar)


def serve(
    host: Annotated[str, _option("Interface to listen on.", SERVER, "HOST")] = "127.0.0.1",
    port: Annotated[int, _option("Port; 0 picks a free one.", SERVER, "N")] = 8765,
    public_url: Annotated[
        str | None,
        _option("Base of the signed upload/download links (a proxy).", SERVER, "URL"),
    ] = None,
    api_key: Annotated[
        list[str] | None,
        _repeatable(f"Accepted x-api-key; repeatable (default {DEFAULT_API_KEY!r}).", "KEY"),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        _repeatable("Web page origin allowed to PUT uploads and read results; repeatable.", "URL"),
    ] = None,
    time_scale: Annotated[
        float, _option("Multiplies the modelled 2-180 s per job.", SERVER, "X", min=0.0)
    ] = 1.0,
    workers: Annotated[int, _option("Jobs processed at once.", SERVER, "N", min=1)] = 4,
    credits: Annotated[int, _option("Credits per period.", SERVER, "N", min=0)] = 1000,
    seed: Annotated[int, _option("Seed of faults and engine.", SERVER, "N")] = 0,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="No access log.", rich_help_panel=SERVER)
    ] = False,
    max_root_fields: Annotated[
        int, _option("Root fields (aliases) per document.", LIMITS, "N", min=1)
    ] = 100,
    max_body_bytes: Annotated[
        int, _option("Largest GraphQL request body.", LIMITS, "N", min=1)
    ] = 1024 * 1024,
    retention: Annotated[
        float, _option("Seconds uploads and results are kept.", LIMITS, "S", min=0.001)
    ] = 7 * 24 * 3600.0,
    read_timeout: Annotated[
        float, _option("Seconds a request may take to arrive.", LIMITS, "S", min=0.001)
    ] = 10.0,
    max_pending_uploads: Annotated[
        int, _option("Signed uploads not yet completed, per key.", LIMITS, "N", min=1)
    ] = 1000,
    allow_private_urls: Annotated[
        bool,
        typer.Option(
            "--allow-private-urls",
            help="Fetch/deliver to private addresses even if not on loopback.",
            rich_help_panel=LIMITS,
        ),
    ] = False,
    fault_500: Annotated[float, _option("HTTP 500.", FAULTS, "P", callback=_rate)] = 0.0,
    fault_429: Annotated[float, _option("HTTP 429.", FAULTS, "P", callback=_rate)] = 0.0,
    fault_drop: Annotated[
        float, _option("Connection dropped, nothing done.", FAULTS, "P", callback=_rate)
    ] = 0.0,
    fault_lost_response: Annotated[
        float, _option("Executed, then connection dropped.", FAULTS, "P", callback=_rate)
    ] = 0.0,
    fault_latency: Annotated[float, _option("Added latency, seconds.", FAULTS, "S", min=0.0)] = 0.0,
    fault_latency_rate: Annotated[
        float, _option("Share of requests delayed.", FAULTS, "P", callback=_rate)
    ] = 0.0,
    fault_only: Annotated[
        str | None,
        _option("Fault only these operations/root fields (a,b).", FAULTS, "NAMES"),
    ] = None,
    job_error_rate: Annotated[
        float, _option("Jobs ending ERROR PROCESSING_FAILED.", FAULTS, "P", callback=_rate)
    ] = 0.0,
) -> None:
    """Run a local VIESUS Cloud emulator (GraphQL API, real image processing, webhooks)."""
    options = dict(locals())  # every option by its parameter name (no other local yet)
    config = _config(**options)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    # httpx logs every request it sends with its whole URL at INFO: a source URL may be
    # presigned (its query string is a credential), and a line per fetch costs CPU.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        asyncio.run(_serve(config, show_key=api_key is None))
    except CannotListen as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None


def _config(
    *,
    host: str,
    port: int,
    public_url: str | None,
    api_key: list[str] | None,
    cors_origin: list[str] | None,
    time_scale: float,
    workers: int,
    credits: int,
    seed: int,
    quiet: bool,
    max_root_fields: int,
    max_body_bytes: int,
    retention: float,
    read_timeout: float,
    max_pending_uploads: int,
    allow_private_urls: bool,
    fault_500: float,
    fault_429: float,
    fault_drop: float,
    fault_lost_response: float,
    fault_latency: float,
    fault_latency_rate: float,
    fault_only: str | None,
    job_error_rate: float,
) -> EmulatorConfig:
    """The configuration ``serve``'s options describe; a bad combination is a usage error."""
    try:
        faults = FaultConfig(
            http_500=fault_500,
            http_429=fault_429,
            drop=fault_drop,
            lost_response=fault_lost_response,
            latency=fault_latency,
            latency_rate=fault_latency_rate,
            job_error_rate=job_error_rate,
            only_operations=_names(fault_only),
        )
        config = EmulatorConfig(
            api_keys=tuple(api_key or (DEFAULT_API_KEY,)),
            host=host,
            port=port,
            public_base_url=public_url,
            cors_origins=tuple(cors_origin or ()),
            time_scale=time_scale,
            workers=workers,
            credits=credits,
            max_root_fields=max_root_fields,
            faults=faults,
            seed=seed,
            access_log=not quiet,
            retention=retention,
            max_pending_uploads=max_pending_uploads,
            read_timeout=read_timeout,
            allow_private_urls=True if allow_private_urls else None,
        )
        config.limits = type(config.limits)(max_body_bytes=max_body_bytes)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    return config


class CannotListen(Exception):
    """The port cannot be bound: said in one line, without a traceback."""


def listen_error(host: str, port: int, exc: OSError) -> CannotListen:
    if exc.errno == errno.EADDRINUSE:
        return CannotListen(
            f"port {port} on {host} is already in use; stop what uses it or pick another "
            "with --port N (--port 0 picks a free one)"
        )
    return CannotListen(
        f"cannot listen on {host}:{port} ({exc.strerror or exc}); try another --host or "
        "--port (--port 0 picks a free one)"
    )


async def _serve(config: EmulatorConfig, *, show_key: bool) -> None:
    from viesus_emulator._runner import Emulator

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    emu = Emulator(config)
    try:
        await emu.start()
    except OSError as exc:
        raise listen_error(config.host, config.port, exc) from None
    try:
        _banner(emu, config, show_key=show_key)
        await stop.wait()
    finally:
        await emu.stop()
    typer.echo("emulator stopped")


def _banner(emu: Emulator, config: EmulatorConfig, *, show_key: bool) -> None:
    """Where it listens and a curl line to try it."""
    # The default key is public knowledge; a key given on the command line is not echoed.
    key = config.api_keys[0] if show_key else "YOUR_KEY"
    body = '{"query":"{ credits { usedCreditsThisPeriod remainingCreditsThisPeriod } }"}'
    typer.echo(f"VIESUS emulator listening on {emu.local_url}/graphql", err=False)
    if config.public_base_url:
        typer.echo(f"Links handed out start with {emu.base_url}")
    typer.echo("Try:")
    typer.echo(
        f"  curl -s {emu.local_url}/graphql -H 'content-type: application/json' "
        f"-H {shlex.quote('x-api-key: ' + key)} -d {shlex.quote(body)}"
    )
    typer.echo(f"Stats: {emu.local_url}/stats    (Ctrl-C to stop)", err=False)
