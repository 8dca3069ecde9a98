"""A deadline for reading each request, which uvicorn does not have."""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("viesus_emulator.http")

#: Bytes per second a request must keep up to earn more time (Apache mod_reqtimeout's default).
MIN_RATE = 500
RESPONSE_408 = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
#: The client's h11 states while its request is still being read.
READING = (h11.IDLE, h11.SEND_BODY)


class ReadTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol with a per-request read deadline (see the module docstring)."""

    read_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._timer: asyncio.TimerHandle | None = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._timer is None and self.conn.their_state in READING:
            self._arm()  # the first bytes of a new request
        self._received += len(data)
        super().data_received(data)
        if self.conn.their_state not in READING:
            self._disarm()  # read completely (or refused by h11): the app has it now

    def on_response_complete(self) -> None:
        self._disarm()  # idle until the next request: the keep-alive timeout's business
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._started = self.loop.time()
        self._received = 0
        self._timer = self.loop.call_later(self.read_timeout, self._check)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        """Extend the deadline by the bytes received meanwhile, or close the connection."""
        deadline = self._started + self.read_timeout + self._received / MIN_RATE
        if self.loop.time() < deadline:
            self._timer = self.loop.call_later(deadline - self.loop.time(), self._check)
            return
        self._timer = None
        if self.transport.is_closing() or self.conn.their_state not in READING:
            return
        if self._received and self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            self.transport.write(RESPONSE_408)
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        log.info("%s: request not received within %g s: closed", client, self.read_timeout)
        self.transport.close()


def with_read_timeout(seconds: float) -> type[ReadTimeoutProtocol]:
    """The protocol class to hand uvicorn (``Config(http=...)``) for this read timeout."""

    class Configured(ReadTimeoutProtocol):
        read_timeout = seconds

    return Configured
