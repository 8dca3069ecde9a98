"""How an endpoint URL is shown in messages and in the SDL header: without its secrets.

An endpoint URL may carry credentials (``https://user:key@host/``) or a token in the query
string. The build step shows only scheme, host, port and path. It keeps this copy of the few
lines it needs so that ``python -m codegen`` imports no runtime package (``viesus``,
``viesus_client``): it must run when the generated package is missing or broken.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

REDACTED = "REDACTED"


# A copy of ``redact_url`` in viesus/_redact.py (the original), kept identical: the build step
# imports no runtime package. tests/codegen/test_redact_copy.py compares the two.
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


def endpoint_without_secrets(url: str) -> str:
    """For the SDL header: like :func:`redact_url`, without marking a dropped query string."""
    return redact_url(url).removesuffix("?" + REDACTED)


def shown_endpoint(url: str) -> str:
    """For error messages: :func:`redact_url` (a dropped query string is marked)."""
    return redact_url(url)
