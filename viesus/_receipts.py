"""Receipts: what a run wrote, beside the output, so a rerun without a journal is "done".

``enhance("photo.jpg", out_dir="out")`` run twice must not refuse (the output exists) nor pay
again. Each placed output gets a hidden ``.NAME.viesus-receipt`` (source, content and options
hashes, job, the output's sha256); a later run that would write the same output from the same
content with the same options finds it and reports the item done. A file in the way that no
receipt vouches for (another program's, or edited since) is still refused.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from viesus._downloads import sha256_of


@dataclass(frozen=True)
class Receipt:
    source_id: str
    content_hash: str | None  # None for a URL source (its content is the service's to fetch)
    params_hash: str
    job_id: str
    upload_id: str | None
    output_sha256: str


def receipt_path(output: Path) -> Path:
    return output.with_name(f".{output.name}.viesus-receipt")


def write_receipt(output: Path, receipt: Receipt) -> None:
    """Write the receipt atomically; a failure to write it loses nothing but the shortcut."""
    path = receipt_path(output)
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(json.dumps(asdict(receipt)), encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)


def vouched(output: Path, expected: Receipt) -> Receipt | None:
    """The receipt of ``output`` if it matches ``expected`` (source, content, options) and the
    file is still the one it describes; otherwise ``None``."""
    try:
        data = json.loads(receipt_path(output).read_text(encoding="utf-8"))
        found = Receipt(**data)
    except (OSError, ValueError, TypeError):
        return None
    same = (found.source_id, found.content_hash, found.params_hash) == (
        expected.source_id,
        expected.content_hash,
        expected.params_hash,
    )
    if not same or sha256_of(output) != found.output_sha256:
        return None
    return found
