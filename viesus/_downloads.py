"""Results on disk: streamed, atomic, named after the input, never overwriting by accident.

Where a result goes is :mod:`viesus._output_names`'s; this module writes it. Bytes stream to
a hidden ``.part`` file next to the planned output (named after it and the job, so a resume
finds and removes leftovers), written and fsynced in a worker thread, then linked into place:
the final name appears complete or not at all. If the name is taken and overwriting was not
asked for, the result goes to a free sibling name instead; a finished (paid) result is never
dropped. The pipeline journals the chosen name and the file's sha256 *before* placing it, so
a crash between placing and journalling leaves an output a resume recognises and adopts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
from pathlib import Path
from typing import IO

import httpx

from viesus._errors import ServerError
from viesus._redact import redact_url
from viesus._retries import NO_RETRY, RetryPolicy, retrying

CHUNK = 1 << 16
WRITE_SIZE = 1 << 20  # bytes handed to the writer thread at once


def free_sibling(path: Path) -> Path:
    for n in range(2, 10_000):
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(f"no free name next to {path}")


def part_path(planned: Path, job_id: str) -> Path:
    """Where the bytes of ``job_id`` stream before they are placed: a hidden file next to the
    planned output, named so that a resume finds it (:func:`remove_parts`) and removes it."""
    return planned.with_name(f".{planned.name}.{_safe_id(job_id)}.part")


def remove_parts(planned: Path) -> int:
    """Remove leftover ``.part`` files of ``planned`` (a crashed or killed download)."""
    removed = 0
    if not planned.parent.is_dir():
        return 0
    for part in planned.parent.glob(f".{glob_escape(planned.name)}.*.part"):
        with contextlib.suppress(OSError):
            part.unlink()
            removed += 1
    return removed


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[\]])", r"[\1]", name)


def _safe_id(job_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", job_id)[:80] or "job"


class _Refused(ServerError):
    """A download answer that retrying will not change (4xx other than 429)."""


async def download_part(
    http: httpx.AsyncClient, url: str, part: Path, *, policy: RetryPolicy
) -> str:
    """Stream ``url`` into ``part`` (fsynced, written off the event loop); its sha256 hex.

    Retried with the policy's backoff on transport errors, 5xx and 429; a 4xx is raised at
    once (``ServerError`` with its status). ``OSError`` (disk full, permission) is raised as is.
    """

    async def attempt() -> str:
        # The part file is opened by the first write: a result that fits in one write (most
        # do) is opened, written, fsynced and closed in one trip to a worker thread.
        handle: IO[bytes] | None = None
        digest = hashlib.sha256()
        try:
            async with http.stream("GET", url, extensions={NO_RETRY: True}) as response:
                if response.status_code >= 500 or response.status_code == 429:
                    raise ServerError(
                        f"download answered HTTP {response.status_code}", response.status_code
                    )
                if response.status_code != 200:
                    raise _Refused(
                        f"download of {redact_url(url)} answered HTTP {response.status_code}",
                        response.status_code,
                    )
                buffer = bytearray()
                async for chunk in response.aiter_bytes(CHUNK):
                    buffer += chunk
                    if len(buffer) >= WRITE_SIZE:
                        handle = await asyncio.to_thread(
                            _write, handle, part, digest, bytes(buffer)
                        )
                        buffer.clear()
            await asyncio.to_thread(_finish, handle, part, digest, bytes(buffer))
        except BaseException:
            if handle is not None and not handle.closed:
                await asyncio.to_thread(handle.close)
            with contextlib.suppress(OSError):
                part.unlink()
            raise
        return digest.hexdigest()

    def retry_on(exc: BaseException) -> bool:
        return isinstance(exc, httpx.TransportError) or (
            isinstance(exc, ServerError) and not isinstance(exc, _Refused)
        )

    try:
        return await retrying(policy, attempt, retry_on=retry_on, what=f"GET {part.name}")
    except httpx.TransportError as exc:
        raise ServerError(
            f"download failed after {policy.max_attempts} attempts ({type(exc).__name__})"
        ) from None


def _open(part: Path) -> IO[bytes]:
    part.parent.mkdir(parents=True, exist_ok=True)
    return part.open("wb")


def _write(handle: IO[bytes] | None, part: Path, digest: hashlib._Hash, data: bytes) -> IO[bytes]:
    """Append ``data`` to the part file (opened on the first write); the open handle."""
    opened = handle is None
    handle = handle or _open(part)
    try:
        handle.write(data)
        digest.update(data)
    except BaseException:
        if opened:
            handle.close()  # the caller never got it
        raise
    return handle


def _finish(handle: IO[bytes] | None, part: Path, digest: hashlib._Hash, data: bytes) -> None:
    """Write the rest, fsync and close (the file is closed even when a step fails)."""
    handle = handle or _open(part)
    try:
        handle.write(data)
        digest.update(data)
        handle.flush()
        os.fsync(handle.fileno())
    finally:
        handle.close()


def sha256_of(path: Path) -> str | None:
    """sha256 hex of a file, or ``None`` if it cannot be read (missing, a folder)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def choose_target(dest: Path, overwrite: bool) -> Path:
    """The name the output will get: ``dest``, or a free sibling when ``dest`` is taken."""
    if overwrite or not dest.exists():
        return dest
    return free_sibling(dest)


def place(part: Path, target: Path, overwrite: bool) -> bool:
    """Move the complete ``part`` to ``target``; ``False`` if ``target`` got taken meanwhile
    (and overwriting was not asked for): choose another name and try again."""
    if overwrite:
        os.replace(part, target)
        return True
    try:
        os.link(part, target)  # fails if the name exists: no overwrite race
    except FileExistsError:
        return False
    except OSError:
        # Filesystems without hard links: exclusive create, then replace.
        try:
            with open(target, "xb"):
                pass
        except FileExistsError:
            return False
        os.replace(part, target)
        return True
    part.unlink(missing_ok=True)
    return True
