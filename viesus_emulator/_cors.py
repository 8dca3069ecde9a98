"""CORS on the storage routes only: the signed-upload PUT and the file downloads.

A web page PUTs the photo straight to its signed URL and fetches the result, so the browser
asks first (preflight ``OPTIONS``) and reads an answer only with ``Access-Control-Allow-Origin``.
Only the origins configured (``EmulatorConfig.cors_origins``, ``--cors-origin``) are allowed;
by default none, so a browser page cannot use the storage at all. The GraphQL endpoint gets no
CORS: it takes the API key, which belongs on the web app's server, never in a page. Starlette's
``CORSMiddleware`` does the protocol. [assumption: the service's storage CORS policy is not
documented.]
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

STORAGE_PREFIXES = ("/uploads/", "/files/")


class StorageCors:
    """``app`` with CORS answered for :data:`STORAGE_PREFIXES` and the given origins."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["GET", "PUT"],
            allow_headers=["content-type"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope["path"]).startswith(STORAGE_PREFIXES):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
