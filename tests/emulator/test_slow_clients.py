"""Clients that send slowly or go away: a read timeout closes them, a drop is one log line.

Driven with raw sockets against a real server on 127.0.0.1; the timeout is a small configured
one and every bound is generous (the machine is shared), nothing measures speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from tests.emulator.conftest import FAST, Api
from viesus_emulator import Emulator, EmulatorConfig

READ_TIMEOUT = 0.5
BOUND = 8.0  # seconds within which a timed-out connection must be closed


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(**FAST, read_timeout=READ_TIMEOUT)  # type: ignore[arg-type]


def post_head(length: int) -> bytes:
    return (
        "POST /graphql HTTP/1.1\r\nhost: x\r\nx-api-key: local\r\n"
        f"content-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    ).encode()


@contextlib.asynccontextmanager
async def connection(
    emu: Emulator,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", emu.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def trickle(writer: asyncio.StreamWriter, data: bytes, pause: float = 0.1) -> None:
    """One byte every ``pause`` seconds, until the server closes or the data runs out."""
    for byte in data:
        if writer.is_closing():
            return
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except OSError:
            return
        await asyncio.sleep(pause)


async def answer_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (within BOUND)."""
    async with asyncio.timeout(BOUND):
        try:
            return await reader.read(-1)
        except ConnectionResetError:
            return b""


def test_read_timeout_has_a_default() -> None:
    assert EmulatorConfig().read_timeout == 10.0
    with pytest.raises(ValueError, match="read_timeout"):
        EmulatorConfig(read_timeout=0)


async def test_headers_sent_slowly_are_answered_408_and_closed(emu: Emulator) -> None:
    async with connection(emu) as (reader, writer):
        sender = asyncio.create_task(trickle(writer, b"GET /healthz HTTP/1.1\r\n" + b"x" * 500))
        answer = await answer_until_closed(reader)
        sender.cancel()
    assert answer.startswith(b"HTTP/1.1 408 "), answer


async def test_a_body_sent_slowly_is_answered_408_and_closed(emu: Emulator) -> None:
    async with connection(emu) as (reader, writer):
        writer.write(post_head(1000))
        sender = asyncio.create_task(trickle(writer, b"{" * 1000))
        answer = await answer_until_closed(reader)
        sender.cancel()
    assert answer.startswith(b"HTTP/1.1 408 "), answer


async def test_a_connection_that_sends_nothing_is_closed(emu: Emulator) -> None:
    async with connection(emu) as (reader, _):
        assert await answer_until_closed(reader) == b""


async def test_a_body_that_keeps_coming_is_not_cut(emu: Emulator) -> None:
    # 20 KB in 1 s (20 KB/s): longer than the read timeout, well above the minimum rate.
    body = b'{"query": "{ credits { usedCreditsThisPeriod } }"' + b" " * 20_000 + b"}"
    async with connection(emu) as (reader, writer):
        writer.write(post_head(len(body)))
        for start in range(0, len(body), 2_000):
            writer.write(body[start : start + 2_000])
            await writer.drain()
            await asyncio.sleep(0.1)
        async with asyncio.timeout(BOUND):
            head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head


async def test_an_idle_keep_alive_connection_is_left_to_the_keep_alive(emu: Emulator) -> None:
    request = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"
    async with connection(emu) as (reader, writer):
        for _ in range(2):
            writer.write(request)
            async with asyncio.timeout(BOUND):
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200 "), head
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r")[0])
                await reader.readexactly(length)
            await asyncio.sleep(READ_TIMEOUT * 3)  # idle: not a slow request


async def one_record(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    """The only log record, once it arrived (and nothing came late); no traceback in it."""
    async with asyncio.timeout(BOUND):
        while not caplog.records:  # noqa: ASYNC110 - a log handler has no event to await
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)  # anything logged late would show up now
    assert [r.exc_info for r in caplog.records] == [None], caplog.text
    assert "Traceback" not in caplog.text
    (record,) = caplog.records
    return record


async def test_a_dropped_half_sent_post_is_one_log_line(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with connection(emu) as (_, writer):
        writer.write(post_head(1000) + b"{" * 100)
        await writer.drain()
        await asyncio.sleep(0.2)
    assert "POST /graphql" in (await one_record(caplog)).getMessage()


async def test_a_dropped_half_sent_put_is_one_log_line_and_leaves_no_file(
    api: Api, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    reserved = await api.data(
        'mutation { createSignedUploadUrl(input: {filename: "a.jpg", filesize: 1000, '
        'mimetype: "image/jpeg"}) { uploadUrl } }'
    )
    url = urlsplit(reserved["createSignedUploadUrl"]["uploadUrl"])
    caplog.set_level(logging.INFO)
    async with connection(emu) as (_, writer):
        writer.write(
            f"PUT {url.path}?{url.query} HTTP/1.1\r\nhost: x\r\ncontent-type: image/jpeg\r\n"
            "content-length: 1000\r\n\r\n".encode()
            + b"\xff" * 100
        )
        await writer.drain()
        await asyncio.sleep(0.2)
    assert f"PUT {url.path}" in (await one_record(caplog)).getMessage()
    assert list(emu.state.uploads_dir.iterdir()) == []  # the partial body was discarded
