"""Keep secrets out of logs, reprs and exceptions.

Signed URLs (upload URLs, download URLs) carry their tokens in the query string, so a URL is
shown without query, fragment or userinfo. Header dumps go through an allowlist, the way Azure's
SDK does it: anything not known to be harmless is written ``REDACTED``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

REDACTED = "REDACTED"

SAFE_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "connection",
        "content-length",
        "content-type",
        "date",
        "host",
        "retry-after",
        "retry-after-ms",
        "server",
        "user-agent",
        "x-request-id",
    }
)


def redact_url(url: str) -> str:
    """``url`` without userinfo, query string or fragment (where signed URLs keep tokens)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    tail = "?" + REDACTED if parts.query else ""
    return urlunsplit((parts.scheme, host, parts.path, "", "")) + tail


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """A copy of ``headers`` where every value not on the allowlist is ``REDACTED``."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {k: (v if k.lower() in SAFE_HEADERS else REDACTED) for k, v in items}
