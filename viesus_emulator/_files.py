"""Getting bytes onto disk: streamed server-side fetches and streamed PUT bodies.

Nothing is buffered whole: chunks go straight to a ``.part`` file that is renamed when
complete, and the size cap is enforced while streaming (a lying or missing Content-Length
cannot make the server read more than the cap).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import anyio
import httpx

from viesus_emulator import _codes as codes
from viesus_emulator._engine import EngineError, ImageInfo, probe
from viesus_emulator._url_policy import UrlRefused

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]+")


class StoreError(Exception):
    """Bytes could not be stored; ``code`` is one of the upload failure codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def safe_filename(name: str | None, fallback: str) -> str:
    """A filename without path separators or control characters (it ends up in URLs)."""
    cleaned = _UNSAFE.sub("_", name or "").strip().strip(".")
    return cleaned[:200] or fallback


def filename_from_url(url: str) -> str:
    path = urlsplit(url).path
    return safe_filename(unquote(PurePosixPath(path).name), "upload")


def enhanced_filename(original: str | None, fallback_stem: str, extension: str) -> str:
    """``photo.jpg`` -> ``photo_enhanced.jpg`` (extension of the result's format)."""
    stem = PurePosixPath(original).stem if original else ""
    return f"{safe_filename(stem, fallback_stem)}_enhanced.{extension}"


#: What a server-side request can raise for an unusable URL or a failed exchange. httpx raises
#: ``InvalidURL`` (not an ``HTTPError``) for characters it refuses, and the IDNA codec a
#: ``UnicodeError`` for host names such as ``xn--``: both pass ``is_http_url``. ``UrlRefused``
#: is the URL policy's (``url_policy``): a scheme or address this server may not reach.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    httpx.HTTPError,
    httpx.InvalidURL,
    UnicodeError,
    UrlRefused,
)

T = TypeVar("T")


async def _capped(chunks: AsyncIterator[bytes], max_bytes: int) -> AsyncIterator[bytes]:
    """``chunks``, failing with FILE_TOO_LARGE as soon as more than ``max_bytes`` arrived."""
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise StoreError(codes.FILE_TOO_LARGE, f"the file is larger than {max_bytes} bytes")
        yield chunk


async def write_stream(
    chunks: AsyncIterator[bytes],
    dest: Path,
    max_bytes: int,
    *,
    accept: Callable[[int], None] | None = None,
) -> int:
    """Stream ``chunks`` to ``dest`` atomically; returns the byte count.

    The bytes go to a .part file of their own (two concurrent writers of one ``dest`` never
    share one), and replace ``dest`` only once complete and ``accept(size)`` (if given) did not
    raise: a refused body never touches what ``dest`` already holds.
    """
    part = dest.with_name(f"{dest.name}.{secrets.token_hex(4)}.part")
    size = 0
    try:
        async with await anyio.open_file(part, "wb") as out:
            async for chunk in _capped(chunks, max_bytes):
                size += len(chunk)
                await out.write(chunk)
        if accept is not None:
            accept(size)
        # A rename is a metadata operation: done on the loop, so nothing runs between the
        # caller's last check in accept() and the bytes becoming dest.
        part.replace(dest)
    except BaseException:
        with contextlib.suppress(OSError):
            await anyio.Path(part).unlink(missing_ok=True)
        raise
    return size


async def _fetch(
    http: httpx.AsyncClient,
    url: str,
    max_bytes: int,
    timeout: float,
    consume: Callable[[AsyncIterator[bytes]], Awaitable[T]],
) -> T:
    """GET ``url`` and hand the body's chunks to ``consume``; every failure is a StoreError.

    ``timeout`` bounds the whole exchange (every redirect hop and the body), not only each
    read; redirects are followed up to the client's ``max_redirects``, each hop checked by
    the client's URL policy.
    """
    try:
        async with (
            asyncio.timeout(timeout),
            http.stream("GET", url, timeout=timeout, follow_redirects=True) as response,
        ):
            if not 200 <= response.status_code <= 299:
                raise StoreError(
                    codes.FETCH_FAILED, f"the URL answered HTTP {response.status_code}"
                )
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise StoreError(codes.FILE_TOO_LARGE, f"the file is larger than {max_bytes} bytes")
            return await consume(response.aiter_bytes())
    except UrlRefused as exc:
        raise StoreError(codes.URL_NOT_ALLOWED, f"the URL is not allowed: {exc}") from exc
    except TimeoutError as exc:
        raise StoreError(
            codes.FETCH_FAILED, f"the URL could not be fetched within {timeout:g} s"
        ) from exc
    except TRANSPORT_ERRORS as exc:
        raise StoreError(
            codes.FETCH_FAILED, f"the URL could not be fetched ({type(exc).__name__})"
        ) from exc


async def fetch_to_file(
    http: httpx.AsyncClient, url: str, dest: Path, max_bytes: int, timeout: float
) -> int:
    """GET ``url`` into ``dest``; StoreError(FETCH_FAILED | FILE_TOO_LARGE) when it fails."""

    async def consume(chunks: AsyncIterator[bytes]) -> int:
        return await write_stream(chunks, dest, max_bytes)

    return await _fetch(http, url, max_bytes, timeout, consume)


async def fetch_bytes(http: httpx.AsyncClient, url: str, max_bytes: int, timeout: float) -> bytes:
    """GET a small resource into memory with the same cap (background replacement images)."""

    async def consume(chunks: AsyncIterator[bytes]) -> bytes:
        return b"".join([chunk async for chunk in _capped(chunks, max_bytes)])

    return await _fetch(http, url, max_bytes, timeout, consume)


def _probe_file(path: Path) -> ImageInfo:
    # The engine reads the header from the open file: a 100 MiB upload is not read whole.
    with path.open("rb") as file:
        head = file.read(5)
        if not head:
            raise StoreError(codes.EMPTY_FILE, "the file is empty (0 bytes)")
        if head == b"%PDF-":
            raise StoreError(
                codes.UNSUPPORTED_FORMAT, "PDF uploads are not supported by the emulator yet"
            )
        try:
            return probe(file)
        except EngineError as exc:
            raise StoreError(exc.code, exc.message) from exc


async def probe_file(path: Path) -> ImageInfo:
    """Read an image header in a thread; StoreError with the engine's code when not an image."""
    return await asyncio.to_thread(_probe_file, path)
