"""``s3://bucket/key`` and ``s3://bucket/prefix/``: parsed, shown, keyed; no dependency.

A bucket source names one object (``s3://lab/in/a.jpg``) or, ending in ``/`` (or naming the
bucket alone), every image under a prefix. Its journal identity is bucket + key (the
source id) and its ETag (the content hash), so a changed object is new work and a copy
under another key with the same ETag adopts the earlier job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

__all__ = ["SCHEME", "BucketObject", "Location", "etag_hash", "is_bucket", "parse"]

SCHEME = "s3://"


def is_bucket(source: object) -> bool:
    """An ``s3://`` source or destination, the scheme in any case."""
    return isinstance(source, str) and source[: len(SCHEME)].lower() == SCHEME


@dataclass(frozen=True)
class Location:
    """A bucket and a key (one object) or a prefix (ending in ``/``, or empty)."""

    bucket: str
    key: str

    @property
    def is_prefix(self) -> bool:
        return self.key == "" or self.key.endswith("/")

    @property
    def url(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.key}"

    def folder(self) -> str:
        """The prefix itself, or the folder holding the object (``in/`` for ``in/a.jpg``)."""
        if self.is_prefix:
            return self.key
        parent = str(PurePosixPath(self.key).parent)
        return "" if parent == "." else parent + "/"


def parse(url: str) -> Location:
    """``s3://bucket/key`` as a :class:`Location`; ``ValueError`` naming what is wrong."""
    if not is_bucket(url):
        raise ValueError(f"{url}: not an s3:// URL")
    bucket, _, key = url[len(SCHEME) :].partition("/")
    if not 3 <= len(bucket) <= 63:
        raise ValueError(f"{url}: a bucket name has 3 to 63 characters")
    if "?" in key or "#" in key:
        raise ValueError(f"{url}: an s3:// URL has no query string or fragment")
    return Location(bucket, key.lstrip("/") if key.startswith("//") else key)


@dataclass(frozen=True)
class BucketObject:
    """One listed object: where it is, its ETag (content identity) and size."""

    location: Location
    etag: str
    size: int


def etag_hash(etag: str) -> str:
    """The content hash the journal keeps for an object: its ETag, marked as one (never
    equal to a file's sha256, so a local file and an object never adopt each other)."""
    return "s3-etag:" + etag.strip('"')
