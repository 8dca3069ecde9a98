"""How an endpoint URL is shown in messages and in the SDL header: without its secrets.

An endpoint URL may carry credentials (``https://user:key@host/``) or a token in the query
string. The build step shows only scheme, host, port and path. It keeps this copy of the few
lines it needs so that ``python -m codegen`` imports no runtime package (``viesus``,
``viesus_client``): it must run when the generated package is missing or broken.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

REDACTED = "REDACTED"


def endpoint_without_secrets(url: str) -> str:
    """``url`` without userinfo, query string or fragment (``REDACTED`` if it does not parse)."""
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
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def shown_endpoint(url: str) -> str:
    """For error messages: like ``endpoint_without_secrets``, marking a dropped query string."""
    shown = endpoint_without_secrets(url)
    if shown != REDACTED and urlsplit(url).query:
        return f"{shown}?{REDACTED}"
    return shown
