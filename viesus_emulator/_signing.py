"""HMAC-signed URLs: the signed upload URL (PUT) and the download URLs (GET).

A URL carries ``expires`` (unix seconds) and ``signature`` = hex HMAC-SHA256 over the method,
the resource path and the expiry, keyed with a random per-instance secret. Nothing else is
needed to authorise the request, as with S3 presigned URLs, so no API key travels with them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from urllib.parse import quote, urlencode


class UrlSigner:
    def __init__(self, base_url: str = "") -> None:
        self._key = secrets.token_bytes(32)
        self.base_url = base_url

    def __repr__(self) -> str:
        return "UrlSigner(<key redacted>)"

    def _signature(self, method: str, path: str, expires: int) -> str:
        message = f"{method}\n{path}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def sign(self, method: str, segments: Sequence[str], ttl: float) -> str:
        """Absolute URL of the path made of ``segments``, valid for ``method`` for ``ttl`` s.

        The signature covers the decoded path (what the router sees), the URL carries it
        percent-encoded, so filenames with spaces or unicode survive the round trip.
        """
        path = "/" + "/".join(segments)
        quoted = "/" + "/".join(quote(segment, safe="") for segment in segments)
        expires = int(time.time() + ttl)
        query = urlencode({"expires": expires, "signature": self._signature(method, path, expires)})
        return f"{self.base_url}{quoted}?{query}"

    def verify(self, method: str, path: str, expires: str | None, signature: str | None) -> str:
        """'' when valid, else the reason (for the 403 body; never echoes the token)."""
        if not expires or not signature:
            return "the URL is not signed"
        try:
            expires_at = int(expires)
        except ValueError:
            return "the URL's expiry is not a number"
        expected = self._signature(method, path, expires_at)
        # Bytes, not str: compare_digest raises TypeError on non-ASCII text (a 500, not a 403).
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return "the URL's signature does not match"
        if expires_at < time.time():
            return "the URL has expired"
        return ""
