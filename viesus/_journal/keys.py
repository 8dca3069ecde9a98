"""Journal keys: what identifies an item (source and options), a file's content, an API key.

Shared by the pipeline, the stores and the shared batch; hashes only, nothing secret.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Final

from viesus._buckets.locations import is_bucket, parse
from viesus._journal.store import ItemKey
from viesus._redact import redact_url
from viesus._sources import is_url

if TYPE_CHECKING:
    from viesus_client.input_types import EnhancedImageInput

__all__ = [
    "hash_file",
    "hash_params",
    "hash_url",
    "is_url",
    "item_key",
    "key_fingerprint",
    "shown_source",
    "source_id",
]

_CHUNK_SIZE: Final = 1 << 20


def hash_file(path: Path, chunk_size: int = _CHUNK_SIZE) -> str:
    """sha256 hex of a file's content, read in chunks (a 500 MB TIFF never sits in memory)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def hash_url(url: str) -> str:
    """sha256 hex of a URL source, as given (the service fetches it; we never do)."""
    return hashlib.sha256(url.encode()).hexdigest()


def hash_params(options: EnhancedImageInput) -> str:
    """sha256 hex of the canonical JSON of the options the caller set.

    Canonical: GraphQL names, only fields explicitly set, sorted keys, no whitespace, so equal
    requests hash equally whatever order or spelling (alias or Python name) built them.
    """
    payload = options.model_dump(mode="json", by_alias=True, exclude_unset=True)
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def source_id(source: str | Path) -> str:
    """Where an input comes from: ``file:`` + absolute path, ``url:`` + sha256 of the URL, or
    ``s3:`` + bucket/key (its ETag is the item's content hash)."""
    if is_bucket(source):
        where = parse(str(source))
        return f"s3:{where.bucket}/{where.key}"
    if is_url(source):
        return "url:" + hash_url(str(source))
    return "file:" + str(Path(source).absolute())


def item_key(source: str | Path, options: EnhancedImageInput) -> ItemKey:
    """The journal key of ``source`` enhanced with ``options`` (by source, not by content)."""
    return ItemKey(source_id(source), hash_params(options))


def key_fingerprint(api_key: str) -> str:
    """A salted sha256 of the API key, truncated: tells keys apart, reveals nothing."""
    return hashlib.sha256(b"viesus-journal-key\x00" + api_key.encode()).hexdigest()[:16]


def shown_source(source: str | Path) -> str:
    """How a source is stored: a path as given, a URL without query, fragment or userinfo."""
    return redact_url(str(source)) if is_url(source) else str(source)
