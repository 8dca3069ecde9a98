"""What a failed request says: where it went (redacted) and what happened, in words.

httpx names an exception class ("ConnectError") and, for a refused port, only "All connection
attempts failed"; the OS error that says why is down its cause chain. A user needs the
endpoint (the wrong one is the usual mistake) and the reason, never a token: the URL is shown
through :func:`viesus._redact.redact_url`. The one copy of this wording, for the client's
errors and ``viesus doctor`` alike.
"""

from __future__ import annotations

import errno
import re
import socket
import ssl
from typing import Final

import httpx

from viesus._redact import redact_url

__all__ = ["transport_failure"]

_ENDPOINT_HINT: Final = "is the service running? (set VIESUS_ENDPOINT or --endpoint)"
_ERRNO_WORDS: Final = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by the server",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ETIMEDOUT: "timed out",
}
_TIMEOUT_WORDS: Final = {
    httpx.ReadTimeout: "no answer from {url} within the timeout",
    httpx.WriteTimeout: "could not send the request to {url} within the timeout",
    httpx.PoolTimeout: "no free connection to {url} within the timeout",
}
_URL: Final = re.compile(r"https?://\S+")


def transport_failure(exc: httpx.TransportError) -> str:
    """One line for ``exc``: ``cannot connect to URL: connection refused; …`` and the like."""
    url = _url(exc)
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        # The endpoint hint only for the API's own requests (POSTs), not a storage URL's.
        hint = f"; {_ENDPOINT_HINT}" if _method(exc) == "POST" else ""
        return f"cannot connect to {url}: {_reason(exc)}{hint}"
    for kind, words in _TIMEOUT_WORDS.items():
        if isinstance(exc, kind):
            return words.format(url=url)
    return f"connection to {url} failed: {_reason(exc)}"


def _reason(exc: BaseException) -> str:
    """The first cause in the chain that says why, in words; else httpx's own sentence."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return "host name not found"
        if isinstance(seen, ssl.SSLError):
            return f"TLS failed ({seen.reason or 'handshake'})"
        if isinstance(seen, OSError) and seen.errno in _ERRNO_WORDS:
            return _ERRNO_WORDS[seen.errno]
        if isinstance(seen, TimeoutError | httpx.TimeoutException):
            return "timed out"
        seen = seen.__cause__ or seen.__context__
    text = _URL.sub(lambda match: redact_url(match.group()), str(exc)).strip().rstrip(".")
    return (text[:1].lower() + text[1:]) if text else type(exc).__name__


def _url(exc: httpx.TransportError) -> str:
    try:
        return redact_url(str(exc.request.url))
    except RuntimeError:  # raised outside a client: no request attached
        return "the endpoint"


def _method(exc: httpx.TransportError) -> str | None:
    try:
        return exc.request.method
    except RuntimeError:
        return None
