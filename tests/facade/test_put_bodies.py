"""The PUT of a local file: small files in one read, large ones streamed, a changed file named.

A photo up to ``WHOLE_READ`` goes out as one read (one trip to a worker thread: profiled as a
third of the client's CPU for file sources when streamed); a larger one streams in ``CHUNK``
pieces so memory stays flat; a file whose size changed since its reservation is refused in
one line instead of a protocol error retried five times.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from viesus._errors import InvalidInput
from viesus._retries import RetryPolicy
from viesus._uploads import CHUNK, WHOLE_READ, LocalFile, put_file


class Recorder(httpx.AsyncBaseTransport):
    """Reads each body as the network would, piece by piece (httpx's MockTransport reads it
    whole first, which would hide streaming)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.pieces: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = b""
        pieces = 0
        assert isinstance(request.stream, httpx.AsyncByteStream)
        async for piece in request.stream:
            body += piece
            pieces += 1
        self.bodies.append(body)
        self.pieces.append(pieces)
        assert request.headers["content-length"] == str(len(body))
        return httpx.Response(200)


def local(path: Path) -> LocalFile:
    return LocalFile(path, "image/jpeg", path.stat().st_size)


@pytest.mark.parametrize("size", [1, CHUNK + 1, WHOLE_READ, WHOLE_READ + 1, 3 * WHOLE_READ])
async def test_the_service_receives_every_byte_small_or_large(tmp_path: Path, size: int) -> None:
    path = tmp_path / "photo.jpg"
    content = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    path.write_bytes(content)
    recorder = Recorder()
    async with httpx.AsyncClient(transport=recorder) as http:
        await put_file(http, "https://storage.test/put", local(path), RetryPolicy())
    assert recorder.bodies == [content]
    expected_pieces = 1 if size <= WHOLE_READ else -(-size // CHUNK)
    assert recorder.pieces == [expected_pieces]


async def test_a_file_changed_since_its_reservation_is_named_not_sent(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"a" * 100)
    reserved = local(path)
    path.write_bytes(b"a" * 150)  # an editor saved it again meanwhile
    recorder = Recorder()
    async with httpx.AsyncClient(transport=recorder) as http:
        with pytest.raises(InvalidInput) as caught:
            await put_file(http, "https://storage.test/put", reserved, RetryPolicy())
    assert recorder.bodies == []
    assert str(caught.value) == (
        f"{path}: changed while it was being uploaded; run again to upload it as it is"
    )
