"""Operability of ``viesus serve``: public URL behind a proxy, --fault-only, keep-alive, a
one-line error for a busy port, help readable at 80 columns."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import typer
from starlette.requests import Request
from starlette.responses import Response
from typer.testing import CliRunner

from tests.emulator.conftest import FAST, Api, jpeg
from viesus_emulator import Emulator, EmulatorConfig
from viesus_emulator import _command as command
from viesus_emulator._serving import Serving


def cli() -> typer.Typer:
    app = typer.Typer(add_completion=False)
    app.command()(command.serve)
    return app


class CountingProxy:
    """A reverse proxy that counts what passes through it (method, first path segment)."""

    def __init__(self) -> None:
        self.target = ""
        self.seen: Counter[tuple[str, str]] = Counter()
        self.http = httpx.AsyncClient(trust_env=False, timeout=30)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        self.seen[(request.method, request.url.path.split("/")[1])] += 1
        upstream = await self.http.request(
            request.method,
            f"{self.target}{request.url.path}",
            params=request.query_params,
            content=await request.body(),
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
        )
        response = Response(upstream.content, upstream.status_code)
        response.headers.update({"content-type": upstream.headers.get("content-type", "")})
        await response(scope, receive, send)


@pytest.fixture
async def proxied(http: httpx.AsyncClient) -> AsyncIterator[tuple[Api, CountingProxy]]:
    proxy = CountingProxy()
    serving = await Serving.start(proxy, "127.0.0.1", 0, name="proxy")
    public = f"http://127.0.0.1:{serving.port}"
    try:
        config = EmulatorConfig(**FAST, public_base_url=public)  # type: ignore[arg-type]
        async with Emulator(config) as emu:
            proxy.target = emu.local_url
            yield Api(emu, http), proxy
    finally:
        await serving.stop()
        await proxy.http.aclose()


async def test_public_url_sends_uploads_and_downloads_through_a_proxy(
    proxied: tuple[Api, CountingProxy],
) -> None:
    api, proxy = proxied
    public = api.emu.base_url
    assert api.emu.endpoint == public + "/graphql"
    upload = await api.signed_upload(jpeg())
    assert str(upload["url"]).startswith(public + "/files/uploads/")
    job = await api.wait(str((await api.enhance(str(upload["id"])))["id"]))
    assert str(job["fullUrl"]).startswith(public + "/files/enhanced/")
    download = await api.http.get(str(job["fullUrl"]))
    assert download.status_code == 200
    assert download.content[:2] == b"\xff\xd8"
    # Everything passed through the proxy: GraphQL, the signed PUT and the download.
    assert proxy.seen[("PUT", "uploads")] == 1
    assert proxy.seen[("GET", "files")] == 1
    assert proxy.seen[("POST", "graphql")] >= 4


def test_public_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="public_base_url"):
        EmulatorConfig(public_base_url="proxy.example:8080")


def test_cli_options_reach_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[EmulatorConfig] = []

    async def fake_serve(config: EmulatorConfig, *, show_key: bool) -> None:
        seen.append(config)

    monkeypatch.setattr(command, "_serve", fake_serve)
    result = CliRunner().invoke(
        cli(),
        [
            "--public-url",
            "https://viesus.test/base",
            "--fault-only",
            "CreateEnhancedImages, createEnhancedImage",
            "--fault-500",
            "0.5",
            "--allow-private-urls",
            "--retention",
            "120",
            "--max-body-bytes",
            "4096",
            "--max-root-fields",
            "25",
            "--max-pending-uploads",
            "7",
            "--read-timeout",
            "2.5",
        ],
    )
    assert result.exit_code == 0, result.output
    (config,) = seen
    assert config.public_base_url == "https://viesus.test/base"
    assert config.faults.only_operations == frozenset(
        {"CreateEnhancedImages", "createEnhancedImage"}
    )
    assert config.faults.http_500 == 0.5
    assert config.allow_private_urls is True
    assert config.retention == 120
    assert config.limits.max_body_bytes == 4096
    assert config.max_root_fields == 25
    assert config.max_pending_uploads == 7
    assert config.read_timeout == 2.5


def test_cli_refuses_bad_values_naming_the_option() -> None:
    result = CliRunner().invoke(cli(), ["--fault-429", "1.5"])
    assert result.exit_code == 2
    assert "--fault-429" in result.output
    assert "between 0 and 1" in result.output
    result = CliRunner().invoke(cli(), ["--public-url", "ftp://x"])
    assert result.exit_code == 2
    assert "public_base_url" in result.output


def test_busy_port_is_one_line_suggesting_port_0() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli(), ["--port", str(port), "--quiet"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert f"port {port} on 127.0.0.1 is already in use" in lines[0]
    assert "--port 0" in lines[0]
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_help_is_readable_at_80_columns() -> None:
    result = CliRunner().invoke(cli(), ["--help"], env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.output
    options = [
        name
        for param in typer.main.get_command(cli()).params
        for name in param.opts
        if name.startswith("--")
    ]
    assert "--fault-lost-response" in options
    for name in options:
        assert name in result.output, f"{name} is not shown in full"


async def test_keep_alive_outlasts_proxies_and_is_applied() -> None:
    assert EmulatorConfig().keep_alive > 60  # nginx 75 s / ALB 60 s: the proxy closes first
    config = EmulatorConfig(**FAST, keep_alive=0.2)  # type: ignore[arg-type]
    async with Emulator(config) as emu:
        reader, writer = await asyncio.open_connection("127.0.0.1", emu.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        await reader.readexactly(int(head.lower().split(b"content-length: ")[1].split(b"\r")[0]))
        # Idle past the keep-alive: the server closes the connection (EOF).
        async with asyncio.timeout(10):
            assert await reader.read() == b""
        writer.close()
