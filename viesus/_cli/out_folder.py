"""``--out DIR`` checked where the options are read, before a request is sent.

A file (or a device such as ``/dev/full``) at the path or at one of its parents, or a folder
that cannot be made or written, would otherwise surface mid-run as a raw ``OSError``. A dry
run creates nothing, so it checks only what can be seen; a run makes the folder here (it would
be made a moment later anyway) and writes a probe file, the one test that covers permissions
and read-only file systems alike.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from viesus._cli.errors import UsageProblem

FIX = "choose another output folder"


def check_out_folder(out: Path, *, create: bool) -> None:
    """Raise UsageProblem naming ``out`` and the fix unless results can be written there."""
    blocking = next((p for p in (out, *out.parents) if p.exists() or p.is_symlink()), None)
    if blocking is not None and not blocking.is_dir():
        raise UsageProblem(f"--out {out}: {blocking} is not a folder; {FIX}")
    if not create:
        return
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = f"the folder cannot be created ({exc.strerror})"
        raise UsageProblem(f"--out {out}: {reason}; {FIX}") from None
    try:
        with tempfile.NamedTemporaryFile(dir=out, prefix=".viesus-write-check-"):
            pass
    except OSError as exc:
        reason = f"results cannot be written here ({exc.strerror})"
        raise UsageProblem(f"--out {out}: {reason}; {FIX}") from None
