"""Results on disk: streamed, atomic, named after the input, never overwriting by accident.

The server's ``filename`` is not trusted for a path (it could hold ``../`` or odd characters):
the output name derives from the *input* name (``photo.jpg`` -> ``photo_enhanced.jpg``), and
only the extension of the result is taken from the server, from an allowlist. Bytes stream to
a hidden temporary file in the output directory, are fsynced, then linked into place: the
final name appears complete or not at all. If the name got taken meanwhile and overwriting was
not asked for, the result goes to a free sibling name instead; a finished (paid) result is
never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import httpx

from viesus._errors import ServerError
from viesus._redact import redact_url
from viesus._retries import RetryPolicy

KNOWN_EXTENSIONS = {
    "jpg": "jpg",
    "jpeg": "jpg",
    "png": "png",
    "tif": "tif",
    "tiff": "tif",
    "webp": "webp",
}
SUFFIX = "_enhanced"
CHUNK = 1 << 16


def source_stem(source: str) -> str:
    """A safe file stem for a local path or a URL source."""
    name = PurePosixPath(urlsplit(source).path).name if "://" in source else Path(source).name
    stem = name.rsplit(".", 1)[0] if "." in name else name
    cleaned = re.sub(r"[^A-Za-z0-9._ -]+", "_", stem).strip(" .") or "image"
    return cleaned[:150]


def result_extension(server_filename: str | None, fallback: str) -> str:
    """The result's extension: the server's if known to be an image type, else ``fallback``."""
    if server_filename and "." in server_filename:
        ext = server_filename.rsplit(".", 1)[1].lower()
        if ext in KNOWN_EXTENSIONS:
            return KNOWN_EXTENSIONS[ext]
    return KNOWN_EXTENSIONS.get(fallback.lower().lstrip("."), "jpg")


def output_path(source: str, out_dir: Path, extension: str) -> Path:
    return out_dir / f"{source_stem(source)}{SUFFIX}.{extension}"


def free_sibling(path: Path) -> Path:
    for n in range(2, 10_000):
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(f"no free name next to {path}")


async def download(
    http: httpx.AsyncClient,
    url: str,
    dest: Path,
    *,
    policy: RetryPolicy,
    overwrite: bool = False,
) -> Path:
    """Stream ``url`` to ``dest`` atomically; returns the path actually written."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    last: Exception | None = None
    attempts = policy.max_attempts
    for attempt in range(attempts):
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                async with http.stream(
                    "GET", url, extensions={"viesus_no_retry": True}
                ) as response:
                    if response.status_code >= 500 or response.status_code == 429:
                        raise ServerError(f"download answered HTTP {response.status_code}")
                    if response.status_code != 200:
                        raise ServerError(
                            f"download of {redact_url(url)} answered HTTP {response.status_code}",
                            response.status_code,
                        )
                    async for chunk in response.aiter_bytes(CHUNK):
                        handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            return _place(tmp, dest, overwrite)
        except (httpx.TransportError, ServerError) as exc:
            tmp.unlink(missing_ok=True)
            last = exc
            status = getattr(exc, "status_code", None)
            if (
                isinstance(exc, ServerError)
                and status is not None
                and status < 500
                and status != 429
            ):
                raise
            await asyncio.sleep(policy.backoff(attempt))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    raise ServerError(f"download failed after {attempts} attempts ({type(last).__name__})")


def _place(tmp: Path, dest: Path, overwrite: bool) -> Path:
    if overwrite:
        os.replace(tmp, dest)
        return dest
    target = dest
    while True:
        try:
            os.link(tmp, target)  # fails if the name exists: no overwrite race
        except FileExistsError:
            target = free_sibling(dest)
            continue
        except OSError:
            # Filesystems without hard links: exclusive create, then replace.
            with contextlib.suppress(FileExistsError):
                with open(target, "xb"):
                    pass
                os.replace(tmp, target)
                return target
            target = free_sibling(dest)
            continue
        tmp.unlink(missing_ok=True)
        return target
