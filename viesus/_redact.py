"""Keep secrets out of logs, reprs and exceptions.

Signed URLs (upload URLs, download URLs) carry their tokens in the query string, so a URL is
shown without query, fragment or userinfo, in messages and in httpx's own log records.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

REDACTED = "REDACTED"


def redact_url(url: str) -> str:
    """``url`` without userinfo, query string or fragment (where signed URLs keep tokens);
    ``REDACTED`` if it does not parse (a port that is no number, say). A dropped query
    string is marked ``?REDACTED``. Copied, line for line, in ``codegen/redact.py``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return REDACTED
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    if port is not None:
        host = f"{host}:{port}"
    tail = "?" + REDACTED if parts.query else ""
    return urlunsplit((parts.scheme, host, parts.path, "", "")) + tail


class RedactingFilter(logging.Filter):
    """Rewrites URL arguments of httpx's own log records (``HTTP Request: POST URL ...``).

    httpx logs every request URL at INFO; a signed upload or download URL would put its token
    into the application's logs. The record is kept, only the URL loses its query string.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact_url(str(arg)) if _looks_like_url(arg) else arg for arg in record.args
            )
        return True


def _looks_like_url(value: object) -> bool:
    text = value if isinstance(value, str) else None
    if text is None and type(value).__name__ == "URL":
        text = str(value)
    return text is not None and text.startswith(("http://", "https://")) and "?" in text


_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Attach the filter to httpx's loggers (idempotent); done when a ``AsyncViesus`` is created."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
