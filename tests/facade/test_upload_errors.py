"""Uploads the service refuses end as typed errors carrying its reason (issue 8).

Reproduced first: a URL to a text file, a dead link and a 50,000 px PNG all came back as
``ServerError("... could not read the upload (UPLOAD_FAILED)")`` with the reason dropped.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.emulator.peer import Peer, running_peer
from viesus import AsyncViesus, UnsupportedUpload, UploadFailed, UploadFetchFailed, UploadTooLarge
from viesus._errors import GraphQLRequestError, ServerError
from viesus._upload_errors import (
    error_of_failed_upload,
    error_of_refused_put,
    typed_upload_error,
)
from viesus_emulator import Emulator


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    async with running_peer() as running:
        yield running


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


async def test_url_uploads_the_service_refuses_carry_its_reason(
    emulator: Emulator, viesus: AsyncViesus, peer: Peer, tmp_path: Path
) -> None:
    text = peer.add_file("notes.jpg", b"just some text\n", "image/jpeg")
    huge = peer.add_file("huge.png", png_claiming(50_000, 50_000), "image/png")
    dead = peer.url("files/missing.jpg") + "?token=s3cr3t-token"

    results = {
        r.source: r async for r in viesus.enhance_many([text, huge, dead], None, tmp_path / "o")
    }

    unsupported, too_large, fetch = (results[s].error for s in (text, huge, dead))
    assert isinstance(unsupported, UnsupportedUpload)
    assert unsupported.code == "UNSUPPORTED_FORMAT"
    assert unsupported.service_reason
    assert "convert it" in str(unsupported)
    assert isinstance(too_large, UploadTooLarge)
    assert too_large.code == "IMAGE_TOO_LARGE"
    assert isinstance(fetch, UploadFetchFailed)
    assert fetch.code == "FETCH_FAILED"
    assert "s3cr3t-token" not in str(fetch)
    assert emulator.stats()["jobs"]["total"] == 0


def test_failed_upload_without_a_reason_says_so() -> None:
    error = error_of_failed_upload("a.jpg", {"id": "u1", "status": "UPLOAD_FAILED"})

    assert type(error) is UploadFailed
    assert error.code == "UPLOAD_FAILED"
    assert "no reason" in str(error)


def test_reason_is_shortened_and_its_urls_redacted() -> None:
    message = "could not fetch https://bucket.test/x.jpg?X-Amz-Signature=abc123 " + "x" * 500
    error = error_of_failed_upload(
        "u", {"metadata": {"error": {"code": "FETCH_FAILED", "message": message}}}
    )

    assert "abc123" not in str(error)
    assert "https://bucket.test/x.jpg?REDACTED" in str(error)
    assert error.service_reason is not None
    assert len(error.service_reason) <= 200


def test_refused_put_keeps_the_storage_code() -> None:
    body = json.dumps({"error": {"code": "SizeMismatch", "message": "size differs"}}).encode()

    mismatch = error_of_refused_put("a.jpg", 400, body)
    too_big = error_of_refused_put("a.jpg", 413, b"<html>too big</html>")

    assert (mismatch.code, mismatch.service_reason) == ("SizeMismatch", "HTTP 400, size differs")
    assert isinstance(too_big, UploadTooLarge)


def test_graphql_upload_errors_with_known_codes_become_typed() -> None:
    known = typed_upload_error("a.jpg", GraphQLRequestError("too big", code="FILE_TOO_LARGE"))
    other = GraphQLRequestError("nope", code="BAD_USER_INPUT")
    server = ServerError("boom")

    assert isinstance(known, UploadTooLarge)
    assert typed_upload_error("a.jpg", other) is other
    assert typed_upload_error("a.jpg", server) is server
