"""What one batch needs from its buckets: the sources listed, presigned GET URLs for the
service, and the destination prefix written by streaming.

No image byte of a bucket source passes through the client: the service fetches each
object from a presigned GET URL (``createUploadFromUrl``), signed just before its wave is
uploaded. [assumption] The service fetches a URL upload when it is created, or at the
latest when its job starts; the URL's lifetime (:func:`expiry_for`) covers the jobs still
ahead of it at the batch's pace, four times over, and a URL that expired anyway (the
upload fails ``FETCH_FAILED``) is signed again and uploaded again, free: a failed upload
created nothing.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import httpx

from viesus._buckets.locations import BucketObject, Location, is_bucket, parse
from viesus._buckets.store import BucketError, Buckets
from viesus._downloads import CHUNK
from viesus._errors import ServerError
from viesus._output_names import KNOWN_EXTENSIONS
from viesus._redact import redact_url
from viesus._retries import NO_RETRY

__all__ = ["MAX_EXPIRY", "MIN_EXPIRY", "BucketRun", "bucket_run", "expiry_for"]

MIN_EXPIRY = datetime.timedelta(minutes=5)
MAX_EXPIRY = datetime.timedelta(days=7)  # the longest a SigV4 presigned URL may live (S3)
MARGIN = 4  # the URL outlives its wave's expected fetch this many times over
# [assumption] What one job takes of the batch's time before any of its jobs has finished
# (the emulator models about 2 s; a slow service or a big image much more).
ASSUMED_SECONDS_PER_JOB = 30.0


def expiry_for(waiting: int, seconds_per_job: float | None) -> datetime.timedelta:
    """A presigned URL's lifetime: MARGIN times the time the batch needs, at its pace
    (``seconds_per_job`` of its elapsed time per finished job; ``None``: none finished
    yet, ASSUMED_SECONDS_PER_JOB), for the ``waiting`` signed jobs not yet finished
    (this one included), within [MIN_EXPIRY, MAX_EXPIRY]."""
    per_job = ASSUMED_SECONDS_PER_JOB if seconds_per_job is None else seconds_per_job
    wanted = datetime.timedelta(seconds=MARGIN * max(waiting, 1) * max(per_job, 0.0))
    return min(max(wanted, MIN_EXPIRY), MAX_EXPIRY)


@dataclass
class BucketRun:
    """The buckets of one batch: its objects by source, each bucket's root folder (whose
    tree the outputs mirror), and the destination (``None``: a local folder)."""

    buckets: Buckets
    out: Location | None
    objects: dict[str, BucketObject | None] = field(default_factory=dict)
    roots: dict[str, str] = field(default_factory=dict)
    existing: set[str] = field(default_factory=set)  # keys under ``out`` when the batch began
    signed_at: float | None = None  # monotonic time of the batch's first signature
    waiting: set[str] = field(default_factory=set)  # sources signed, their jobs not finished
    finished_jobs: int = 0  # jobs of this batch that ended (any source), since signed_at

    @property
    def out_dir(self) -> Path:
        """The destination prefix as the relative path the output names are built under."""
        assert self.out is not None
        return Path(self.out.key.rstrip("/") or ".")

    async def expand(self, sources: Sequence[str | Path]) -> list[str | Path]:
        """The sources with each ``s3://…/`` prefix replaced by the images under it (key
        order) and each named object looked up (``None`` when there is none: refused)."""
        expanded: list[str | Path] = []
        folders: dict[str, list[str]] = {}
        for source in sources:
            if not is_bucket(source):
                expanded.append(source)
                continue
            where = _parsed(str(source))
            folders.setdefault(where.bucket, []).append(where.folder())
            if where.is_prefix:
                found = [o for o in await self.buckets.list(where) if _wanted(o.location.key)]
                if not found:
                    raise BucketError(f"{where.url}: no images or PDFs under this prefix")
                for obj in found:
                    self.objects[obj.location.url] = obj
                    expanded.append(obj.location.url)
            else:
                self.objects[where.url] = await self.buckets.head(where)
                expanded.append(where.url)
        self.roots = {bucket: _common_folder(keys) for bucket, keys in folders.items()}
        if self.out is not None:
            listed = await self.buckets.list(self.out)
            self.existing = {o.location.key for o in listed}
        return expanded

    async def sign(self, source: str) -> str:
        """A presigned GET URL of ``source``, valid for as long as the batch's pace says
        its job may wait (:func:`expiry_for`)."""
        self.waiting.add(source)
        return await self.buckets.sign(parse(source), self.expiry())

    def expiry(self) -> datetime.timedelta:
        now = time.monotonic()
        if self.signed_at is None:
            self.signed_at = now
        pace = (now - self.signed_at) / self.finished_jobs if self.finished_jobs else None
        return expiry_for(len(self.waiting), pace)

    def finished(self, source: str) -> None:
        """One of the batch's jobs ended (finished or failed): the pace's count."""
        self.waiting.discard(source)
        if self.signed_at is not None:
            self.finished_jobs += 1

    def key_of(self, dest: Path) -> str:
        return dest.as_posix().removeprefix("./")

    def url_of(self, dest: Path) -> str:
        assert self.out is not None
        return f"s3://{self.out.bucket}/{self.key_of(dest)}"

    def exists(self, dest: Path) -> bool:
        return self.key_of(dest) in self.existing

    def has(self, url: str) -> bool:
        """Whether ``url`` (``s3://``) names an object under the destination prefix."""
        if self.out is None or not is_bucket(url):
            return False
        where = parse(url)
        return where.bucket == self.out.bucket and where.key in self.existing

    def free_name(self, dest: Path, own: str | None, overwrite: bool) -> Path:
        """``dest``, or a free sibling when another batch's object has its key (``own``:
        the URL this item's journal chose before: its own earlier write, taken again)."""
        if overwrite or not self.exists(dest) or own == self.url_of(dest):
            return dest
        for n in range(2, 10_000):
            candidate = dest.with_name(f"{dest.stem}-{n}{dest.suffix}")
            if not self.exists(candidate):
                return candidate
        raise BucketError(f"{self.url_of(dest)}: no free name next to it")

    async def save(self, http: httpx.AsyncClient, url: str, dest: Path) -> str:
        """Stream the result at ``url`` into the destination object; its sha256 hex."""
        assert self.out is not None
        digest = hashlib.sha256()
        async with http.stream("GET", url, extensions={NO_RETRY: True}) as response:
            if response.status_code != 200:
                raise ServerError(
                    f"download of {redact_url(url)} answered HTTP {response.status_code}",
                    response.status_code,
                )

            async def chunks() -> AsyncIterator[bytes]:
                async for chunk in response.aiter_bytes(CHUNK):
                    digest.update(chunk)
                    yield chunk

            await self.buckets.put(Location(self.out.bucket, self.key_of(dest)), chunks())
        self.existing.add(self.key_of(dest))
        return digest.hexdigest()


def bucket_run(
    sources: Sequence[str | Path], out_dir: str | Path, *, shared: bool = False
) -> BucketRun | None:
    """The batch's buckets, or ``None`` when no source and not the output is in a bucket.
    ``shared``: the batch has a PostgreSQL journal (not yet with buckets: refused)."""
    out = _parsed(str(out_dir)) if is_bucket(out_dir) else None
    if out is None and not any(is_bucket(s) for s in sources):
        return None
    if shared:
        raise BucketError("s3:// sources and outputs take a journal file for now, not a DSN")
    if out is not None and not out.is_prefix:
        out = Location(out.bucket, out.key + "/")
    return BucketRun(Buckets(), out)


def _parsed(url: str) -> Location:
    try:
        return parse(url)
    except ValueError as exc:
        raise BucketError(str(exc)) from None


def _wanted(key: str) -> bool:
    name = PurePosixPath(key).name
    extension = name.rpartition(".")[2].lower()
    return "." in name and not name.startswith(".") and extension in KNOWN_EXTENSIONS


def _common_folder(folders: list[str]) -> str:
    common = os.path.commonpath(["/" + f for f in folders]).lstrip("/")
    return common + "/" if common else ""
