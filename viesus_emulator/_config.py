"""Configuration of the local emulator: one dataclass for the server, one for injected faults.

Both are plain dataclasses without heavy imports, so the CLI can build them before the server
modules (ariadne, numpy, OpenCV) are loaded. ``FaultConfig`` is mutable on purpose: tests change
the faults of a running emulator by assigning ``emu.state.faults`` (or ``emu.faults``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_API_KEY = "local"


def checked_origin(origin: str) -> str:
    """``scheme://host[:port]`` as a browser sends it in ``Origin``; ValueError otherwise."""
    parts = urlsplit(origin.strip())
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
    ):
        raise ValueError(f"a CORS origin is scheme://host[:port], not {origin!r}")
    return f"{parts.scheme}://{parts.netloc}".lower()


@dataclass(frozen=True)
class QueryLimits:
    """Per-document limits; ``None`` switches one off (not advised on a shared interface)."""

    #: Request body (POST) or query string (GET) in bytes. Beyond: HTTP 413.
    max_body_bytes: int = 1024 * 1024
    #: Lexical tokens of the document, counted while parsing (the parser stops at the limit).
    max_tokens: int | None = 4_000
    #: Nesting of fields, fragments followed (``{ a { b } }`` is 2).
    max_depth: int | None = 15
    #: Field selections after expanding every fragment spread (what a naive server walks).
    max_fields: int | None = 1_000
    #: Fields sharing one response key in one selection set (``{ id id id }``).
    max_same_key: int | None = 20
    #: Estimated result size: every field counts 1, times the possible length of each list
    #: above it (introspection lists: their real length; others: ``list_factor``).
    max_cost: int | None = 25_000
    #: The assumed length of a list whose length the emulator cannot bound in advance.
    list_factor: int = 10

    def __post_init__(self) -> None:
        for name in ("max_tokens", "max_depth", "max_fields", "max_same_key", "max_cost"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 (or None for no limit), not {value}")
        if self.max_body_bytes < 1:
            raise ValueError("max_body_bytes must be at least 1")
        if self.list_factor < 1:
            raise ValueError("list_factor must be at least 1")


@dataclass
class FaultConfig:
    """Seeded per-request fault probabilities for GraphQL POST requests.

    One random draw per eligible request picks at most one of the HTTP faults (their
    probabilities must add up to at most 1); latency is drawn separately and can combine
    with any of them. ``job_error_rate`` applies to every job, whatever ``only_operations`` says.
    """

    #: HTTP 500 with a GraphQL error body; the operation is not executed.
    http_500: float = 0.0
    #: HTTP 429 with ``Retry-After: retry_after`` seconds; the operation is not executed.
    http_429: float = 0.0
    #: The connection drops after the response head and part of a body; nothing was executed.
    drop: float = 0.0
    #: The operation IS executed, then the connection drops before the answer is complete:
    #: the case in which a naive retry pays twice.
    lost_response: float = 0.0
    #: Seconds added before handling, with probability ``latency_rate``.
    latency: float = 0.0
    latency_rate: float = 0.0
    #: Share of jobs that end ``ERROR`` with errorCode ``PROCESSING_FAILED`` (and are not charged).
    job_error_rate: float = 0.0
    #: Value of the ``Retry-After`` header of an injected 429, in seconds.
    retry_after: int = 1
    #: When set, HTTP faults and latency only hit requests whose operation name or one of whose
    #: root fields is in this set (e.g. ``{"createEnhancedImage"}``).
    only_operations: frozenset[str] | None = None

    def __post_init__(self) -> None:
        rates = {
            "http_500": self.http_500,
            "http_429": self.http_429,
            "drop": self.drop,
            "lost_response": self.lost_response,
            "latency_rate": self.latency_rate,
            "job_error_rate": self.job_error_rate,
        }
        for name, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate {name} must be between 0 and 1, not {rate}")
        if self.http_500 + self.http_429 + self.drop + self.lost_response > 1.0:
            raise ValueError("the HTTP fault rates add up to more than 1")
        if self.latency < 0:
            raise ValueError("fault latency must not be negative")
        if self.only_operations is not None:
            self.only_operations = frozenset(self.only_operations)

    @property
    def any_http_fault(self) -> bool:
        return bool(self.http_500 or self.http_429 or self.drop or self.lost_response)


@dataclass
class EmulatorConfig:
    """Everything that shapes one emulator instance. The defaults suit tests and local work."""

    #: Accepted ``x-api-key`` values. The default key is ``local``.
    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    host: str = "127.0.0.1"
    #: 0 picks a free port; the bound port is read back after start.
    port: int = 0
    #: Base of every URL the server hands out (signed upload/download URLs). Defaults to
    #: ``http://HOST:PORT`` with a wildcard host shown as 127.0.0.1.
    public_base_url: str | None = None
    #: Multiplies the engine's model of the processing time (2-180 s); 0 means no waiting.
    time_scale: float = 1.0
    #: Number of jobs processed at the same time (the rest wait in status QUEUED).
    workers: int = 4
    #: Credit allowance per period (a calendar month, UTC).
    credits: int = 1000
    #: Emulated server limit on root fields (aliases) per document; None means no limit.
    #: Announced as ``extensions.limit`` of a ``TOO_MANY_ROOT_FIELDS`` error [assumption].
    max_root_fields: int | None = 100
    #: Body size, tokens, depth, expansion and cost limits of a GraphQL document.
    limits: QueryLimits = field(default_factory=QueryLimits)
    faults: FaultConfig = field(default_factory=FaultConfig)
    #: Seeds the fault draws and the engine, so runs are reproducible.
    seed: int = 0
    #: Where uploads and results are stored; a temporary directory (removed on exit) if None.
    data_dir: Path | None = None
    #: Delays between webhook delivery attempts; attempts = 1 + len(webhook_retry_delays).
    webhook_retry_delays: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
    webhook_timeout: float = 5.0
    max_webhooks: int = 5
    #: Largest accepted upload (signed PUT and URL fetch), in bytes.
    max_upload_bytes: int = 100 * 1024 * 1024
    #: Total time of one server-side fetch (``createUploadFromUrl``, background images),
    #: redirects included, and of one webhook delivery attempt's connect + read.
    fetch_timeout: float = 10.0
    #: Redirect hops a server-side fetch follows (each hop is checked like the first URL).
    max_redirects: int = 5
    #: Whether server-side fetches and webhooks may reach loopback, private, link-local or
    #: shared addresses. None: only when the server itself is bound to a loopback address.
    #: Cloud metadata addresses are refused unless this is True.
    allow_private_urls: bool | None = None
    #: When set, the emulator's own requests go only to these hosts (names or addresses,
    #: compared before any DNS lookup): a sandbox where nothing leaves the machine.
    fetch_hosts: frozenset[str] | None = None
    #: Signed uploads created but not yet completed, per API key; beyond, createSignedUploadUrl
    #: is ``LIMIT_EXCEEDED`` [assumption]. None means no limit.
    max_pending_uploads: int | None = 1000
    #: Lifetime of a signed upload URL, seconds.
    upload_url_ttl: float = 3600.0
    #: Lifetime of download URLs (``fullUrl``, ``Upload.url``).
    download_url_ttl: float = 7 * 24 * 3600.0
    #: How long an upload and its jobs are kept after their last activity; then the files
    #: and records are deleted and the ids answer like unknown ones [assumption].
    retention: float = 7 * 24 * 3600.0
    #: How often expired uploads are swept away, seconds.
    sweep_interval: float = 60.0
    #: Webhook delivery records kept for inspection (the oldest are dropped first).
    max_delivery_records: int = 1000
    #: Seconds an idle HTTP keep-alive connection stays open: longer than the usual 60 s of
    #: proxies and load balancers, so the proxy, not the emulator, closes idle connections.
    keep_alive: float = 75.0
    #: Seconds a request (headers and body) may take to arrive from its first byte, plus one
    #: per 500 bytes received; then 408 and the connection is closed (``read_timeout``).
    read_timeout: float = 10.0
    #: Web-page origins (``scheme://host[:port]``) allowed to PUT to signed upload URLs and
    #: read downloads from a browser (CORS); none by default. The GraphQL endpoint gets no CORS.
    cors_origins: tuple[str, ...] = ()
    #: Log one line per request (method, path without query string, status); never secrets.
    access_log: bool = False

    def __post_init__(self) -> None:
        if not self.api_keys or any(not key for key in self.api_keys):
            raise ValueError("at least one non-empty API key is required")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.time_scale < 0:
            raise ValueError("time_scale must not be negative")
        if self.credits < 0:
            raise ValueError("credits must not be negative")
        if self.max_root_fields is not None and self.max_root_fields < 1:
            raise ValueError("max_root_fields must be at least 1")
        if self.max_pending_uploads is not None and self.max_pending_uploads < 1:
            raise ValueError("max_pending_uploads must be at least 1")
        if self.retention <= 0 or self.sweep_interval <= 0:
            raise ValueError("retention and sweep_interval must be positive")
        if self.max_delivery_records < 0 or self.max_redirects < 0:
            raise ValueError("max_delivery_records and max_redirects must not be negative")
        if self.keep_alive <= 0 or self.fetch_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("keep_alive, fetch_timeout and read_timeout must be positive")
        if self.public_base_url is not None and not self.public_base_url.startswith(
            ("http://", "https://")
        ):
            raise ValueError(
                f"public_base_url must start with http:// or https://, not {self.public_base_url!r}"
            )
        self.api_keys = tuple(self.api_keys)
        self.cors_origins = tuple(checked_origin(o) for o in self.cors_origins)
        self.webhook_retry_delays = tuple(self.webhook_retry_delays)

    def __repr__(self) -> str:
        # API keys are secrets: never part of a repr that may end up in a log.
        return (
            f"EmulatorConfig(api_keys=<{len(self.api_keys)} redacted>, host={self.host!r}, "
            f"port={self.port}, time_scale={self.time_scale}, workers={self.workers}, "
            f"credits={self.credits}, max_root_fields={self.max_root_fields}, "
            f"faults={self.faults!r}, seed={self.seed})"
        )
