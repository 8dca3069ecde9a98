"""Where each result goes: the input tree mirrored under the output folder, names kept.

``trip a/IMG_0001.jpg`` and ``trip b/IMG_0001.jpg`` land in ``OUT/trip a/`` and ``OUT/trip b/``
(paths relative to the batch's root folder, by default the deepest folder holding every local
source), so camera folders with the same file names never collide. Names keep their script
(``日本語.jpg`` -> ``日本語_enhanced.jpg``) and their extension's spelling when the result has
the same format (``.tiff`` stays ``.tiff``); only what no file system takes is replaced. The
server's ``filename`` never names a path: only its extension is read, from an allowlist.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from viesus._buckets.locations import is_bucket, parse

KNOWN_EXTENSIONS = {
    "jpg": "jpg",
    "jpeg": "jpg",
    "png": "png",
    "tif": "tif",
    "tiff": "tif",
    "webp": "webp",
    "pdf": "pdf",  # a photobook's result is a PDF
}
SUFFIX = "_enhanced"
# Characters Windows, macOS or Linux refuse in a name (or read as a path separator).
_REFUSED = frozenset('/\\:*?"<>|\x00')
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(10)), *(f"LPT{n}" for n in range(10))}
)
STEM_BYTES = 120  # the part file (name + job id + ".part") stays within 255 bytes


def safe_name(name: str) -> str:
    """``name`` as a file name every common file system accepts, its script kept.

    Control characters and the characters above become ``_``; trailing dots and spaces go
    (Windows drops them); a reserved device name gets ``_``; the UTF-8 length is capped."""
    cleaned = "".join(
        "_" if c in _REFUSED or unicodedata.category(c) == "Cc" else c for c in name
    ).strip(" .")
    if cleaned.split(".", 1)[0].upper() in _RESERVED:
        cleaned += "_"
    encoded = cleaned.encode("utf-8")[:STEM_BYTES]
    return encoded.decode("utf-8", "ignore") or "image"


def source_name(source: str) -> str:
    """The last path segment of a file path or URL (percent-decoded for URLs)."""
    if "://" in source:
        return unquote(PurePosixPath(urlsplit(source).path).name)
    return Path(source).name


def split_extension(name: str) -> tuple[str, str]:
    """``("photo", "jpeg")`` for ``photo.jpeg``; no extension: ``(name, "")``."""
    stem, dot, extension = name.rpartition(".")
    return (stem, extension) if dot and stem else (name, "")


def result_extension(server_filename: str | None, fallback: str) -> str:
    """The result's format as an extension: the server's if it is a type we know, else the
    ``fallback``'s (the input's), else ``jpg``."""
    if server_filename and "." in server_filename:
        extension = server_filename.rsplit(".", 1)[1].lower()
        if extension in KNOWN_EXTENSIONS:
            return KNOWN_EXTENSIONS[extension]
    return KNOWN_EXTENSIONS.get(fallback.lower().lstrip("."), "jpg")


def spelled_like(extension: str, source_extension: str) -> str:
    """``extension`` as the input spelled it when the formats agree (``tiff``, ``JPG``)."""
    spelled = source_extension.lstrip(".")
    if KNOWN_EXTENSIONS.get(spelled.lower()) == KNOWN_EXTENSIONS.get(extension.lower()):
        return spelled
    return extension


def common_root(sources: Iterable[str]) -> Path | None:
    """The deepest folder holding every local source (``None`` without local sources, or on
    different drives)."""
    return deepest_folder(str(Path(s).absolute().parent) for s in sources if "://" not in s)


def deepest_folder(folders: Iterable[str]) -> Path | None:
    """The deepest folder holding all of ``folders`` (``None`` for none, or different drives)."""
    places = sorted(set(folders))
    if not places:
        return None
    try:
        return Path(os.path.commonpath(places))
    except ValueError:
        return None


def mirrored_output(
    source: str,
    out_dir: Path,
    root: Path | None,
    extension: str,
    bucket_roots: Mapping[str, str] | None = None,
) -> Path:
    """``OUT/<folder relative to root>/<stem>_enhanced.<ext>`` for a file; an ``s3://``
    object's folder relative to its bucket's root prefix (``bucket_roots``); URLs at the top."""
    stem, source_extension = split_extension(source_name(source))
    name = f"{safe_name(stem)}{SUFFIX}.{spelled_like(extension, source_extension)}"
    if is_bucket(source) and bucket_roots is not None:
        return out_dir.joinpath(*(safe_name(p) for p in _bucket_folder(source, bucket_roots)), name)
    if "://" in source or root is None:
        return out_dir / name
    try:
        relative = Path(source).absolute().parent.relative_to(root)
    except ValueError:
        return out_dir / name
    return out_dir.joinpath(*(safe_name(part) for part in relative.parts), name)


def _bucket_folder(source: str, bucket_roots: Mapping[str, str]) -> list[str]:
    """The folders between an object's bucket root prefix and the object."""
    where = parse(source)
    folder = where.folder()
    root = bucket_roots.get(where.bucket, "")
    relative = folder[len(root) :] if folder.startswith(root) else folder
    return [part for part in relative.split("/") if part]


def disambiguated(path: Path, source_id: str) -> Path:
    """A name of ``path``'s that no other source takes: a short hash of the source added."""
    tag = hashlib.sha256(source_id.encode()).hexdigest()[:8]
    return path.with_name(f"{path.stem}-{tag}{path.suffix}")


def collision_key(path: Path) -> str:
    """Two outputs collide if their names differ only in case or Unicode normalisation (as
    on macOS and Windows file systems)."""
    return unicodedata.normalize("NFC", str(path)).casefold()
