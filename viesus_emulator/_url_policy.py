"""Which addresses the emulator's own outgoing requests may reach (URL uploads, background
images, webhook deliveries): the guard against server-side request forgery.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Instance-metadata services of the big clouds: refused unless explicitly allowed.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (classic)
    )
)
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class UrlRefused(Exception):
    """The URL may not be fetched by this server; the message says why (no secrets in it)."""


def is_loopback_host(host: str) -> bool:
    """Whether a bind address is loopback-only (``0.0.0.0``, ``::`` and names are not)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class UrlPolicy:
    allow_private: bool
    allow_metadata: bool
    #: When set, only these hosts (names or literal addresses, lower case) are contacted;
    #: checked before any DNS lookup (sandboxes, the fuzz test: nothing leaves the machine).
    only_hosts: frozenset[str] | None = None

    @classmethod
    def for_server(
        cls,
        bind_host: str,
        allow_private_urls: bool | None,
        only_hosts: frozenset[str] | None = None,
    ) -> UrlPolicy:
        """The policy of a server bound to ``bind_host`` (see the module docstring)."""
        hosts = None if only_hosts is None else frozenset(h.lower() for h in only_hosts)
        if allow_private_urls is None:
            return cls(is_loopback_host(bind_host), allow_metadata=False, only_hosts=hosts)
        return cls(allow_private_urls, allow_private_urls, hosts)

    def check_host(self, host: str) -> None:
        """Refuse a host outside ``only_hosts`` (no lookup is made for it)."""
        if self.only_hosts is not None and host.lower().strip("[]") not in self.only_hosts:
            raise UrlRefused(f"{host} is not one of the hosts this server may contact")

    def address_refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be reached, or None."""
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None:
            address = mapped
        if address in METADATA_ADDRESSES and not self.allow_metadata:
            return f"{address} is a cloud metadata address"
        if (not address.is_global or address.is_multicast) and not self.allow_private:
            return (
                f"{address} is not a public address (loopback, private, link-local or "
                "reserved); start the server with --allow-private-urls to allow it"
            )
        return None

    def check_url(self, url: str) -> None:
        """Scheme and, for an IP-literal or ``localhost`` host, the address (no DNS lookup)."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError as exc:
            raise UrlRefused("the URL cannot be parsed") from exc
        if parts.scheme.lower() not in {"http", "https"}:
            raise UrlRefused(f"only http and https URLs are fetched, not {parts.scheme!r}")
        if not host:
            raise UrlRefused("the URL has no host")
        self.check_host(host)
        if host.lower() in LOOPBACK_NAMES:
            self.check_addresses([ipaddress.ip_address("127.0.0.1")])
            return
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return  # a name: checked when it is resolved, at connection time
        self.check_addresses([address])

    def check_addresses(self, addresses: Iterable[IPAddress]) -> None:
        for address in addresses:
            reason = self.address_refusal(address)
            if reason is not None:
                raise UrlRefused(reason)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks every address, then connects to a checked address."""

    def __init__(self, policy: UrlPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.policy.check_host(host)
        addresses = await self._resolve(host, port, timeout)
        self.policy.check_addresses(addresses)
        failure: Exception | None = None
        for address in dict.fromkeys(addresses):  # each checked address in order, once
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def _resolve(self, host: str, port: int, timeout: float | None) -> list[IPAddress]:
        """Every address of ``host``. A failed or slow lookup is httpcore's connect error, as
        a refused connection is: callers see one kind of transport failure (FETCH_FAILED,
        BACKGROUND_FETCH_FAILED, a retried webhook), not a raw ``socket.gaierror``."""
        try:
            with anyio.fail_after(timeout):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"looking up {host} timed out") from exc
        except OSError as exc:  # socket.gaierror: no such name, no resolver
            raise httpcore.ConnectError(f"{host} does not resolve") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise httpcore.ConnectError(f"{host} does not resolve")
        return addresses

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, with connections opened by :class:`GuardedBackend`.

    httpx has no parameter for the network backend, so the connection pool is rebuilt
    with one (``_pool`` is httpx's own attribute for it, stable since httpx 0.18).
    """

    def __init__(self, policy: UrlPolicy) -> None:
        super().__init__(trust_env=False)
        self.policy = policy
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # The scheme and literal addresses, before any connection (redirect hops included).
        self.policy.check_url(str(request.url))
        return await super().handle_async_request(request)


def guarded_client(policy: UrlPolicy, max_redirects: int) -> httpx.AsyncClient:
    """The client for every request the emulator itself makes."""
    # trust_env=False: never through a proxy from the environment (it would see, and could
    # reach, what the policy refuses).
    return httpx.AsyncClient(
        transport=GuardedTransport(policy), trust_env=False, max_redirects=max_redirects
    )
