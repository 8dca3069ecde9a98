"""A bound on signed uploads that were created but never completed, per API key.

Each pending upload holds a record (and after its PUT, a file) until retention sweeps it,
7 days by default: unbounded, one key could fill memory and disk with reservations it never
uses. Past ``max_pending_uploads`` the create is refused with ``LIMIT_EXCEEDED``
[assumption: the service documents no such limit].
"""

from __future__ import annotations

from collections.abc import Mapping

from viesus_emulator import _codes as codes
from viesus_emulator._store import UPLOAD_PENDING, UploadRecord


class PendingUploads:
    """The ids of the signed uploads each key created, pruned only when a key is at its limit
    (completed and swept ones are forgotten then), so the usual create costs nothing."""

    def __init__(self) -> None:
        self._by_key: dict[str, set[str]] = {}

    def admit(self, key: str, uploads: Mapping[str, UploadRecord], limit: int | None) -> None:
        """Raise ``LIMIT_EXCEEDED`` when ``key`` already has ``limit`` pending uploads."""
        ids = self._by_key.setdefault(key, set())
        if limit is None or len(ids) < limit:
            return
        for upload_id in list(ids):
            upload = uploads.get(upload_id)
            if upload is None or upload.status != UPLOAD_PENDING:
                ids.discard(upload_id)
        if len(ids) >= limit:
            raise codes.graphql_error(
                codes.LIMIT_EXCEEDED,
                f"at most {limit} pending signed uploads per API key: PUT and complete the "
                "ones already created (or wait until retention removes them)",
                limit=limit,
            )

    def add(self, key: str, upload_id: str) -> None:
        self._by_key.setdefault(key, set()).add(upload_id)
