"""What a run leaves behind for people and monitoring: sidecars and ``viesus-report.json``.

``--sidecar`` writes ``NAME.viesus.json`` beside each output (job id, parameters, credits,
timing, the hash of the schema the client was generated from), so a lab's monitoring can scan
the output folder. ``DIR/viesus-report.json`` is the latest run's report (interrupted ones
too) and ``DIR/viesus-reports/`` keeps every run's.
Files are written to a temporary name and renamed, so a reader never sees half a record.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from viesus import EnhanceResult, __version__
from viesus._cli.ledger import Credits
from viesus._cli.outcomes import cli_reason, downscaled

REPORT_NAME = "viesus-report.json"
HISTORY = "viesus-reports"  # every run's report, by start time


@cache
def schema_hash() -> str:
    """sha256 of the SDL the client was generated from (shipped in ``viesus_client``)."""
    sdl = resources.files("viesus_client").joinpath("schema.graphql").read_bytes()
    return "sha256:" + hashlib.sha256(sdl).hexdigest()


def without_query(url: str | None) -> str | None:
    """A URL without its query string (where signed URLs keep their tokens)."""
    if url is None:
        return None
    parts = urlsplit(url)
    hidden = "…(signature hidden)" if parts.query else ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) + hidden


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(partial, path)


def result_record(result: EnhanceResult, seconds: float) -> dict[str, Any]:
    return {
        "source": result.source,
        "status": result.status,
        "output": None if result.output_path is None else str(result.output_path),
        "job_id": result.job_id,
        "upload_id": result.upload_id,
        "credits": result.credits if result.status == "finished" else 0,
        "reason": cli_reason(result),
        **downscaled(result),
        "seconds_since_start": round(seconds, 3),
    }


def sidecar_path(output: Path) -> Path:
    return output.with_name(output.stem + ".viesus.json")


def write_sidecar(
    result: EnhanceResult, options: dict[str, Any], seconds: float, started: str
) -> Path | None:
    if result.output_path is None or result.status != "finished":
        return None
    path = sidecar_path(result.output_path)
    write_json(
        path,
        {
            **result_record(result, seconds),
            "parameters": options,
            "run_started": started,
            "schema": schema_hash(),
            "toolkit": __version__,
        },
    )
    return path


def write_report(
    path: Path,
    *,
    started: str,
    endpoint: str,
    options: dict[str, Any],
    credits: Credits,
    planned: int,
    interrupted: bool,
    shared: dict[str, str] | None = None,
) -> Path:
    """The run's report at ``path`` (the latest run's, replaced each run) and a copy kept
    under ``viesus-reports/`` named by its start time, so no run's report is lost. Every
    source has a row, done or not. With ``shared`` (batch, worker, journal without
    credentials) the rows are this worker's only: the other sources were settled by other
    workers (``viesus batch status`` has the batch's totals)."""
    counts: dict[str, int] = {}
    for row in credits.rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    scope: dict[str, Any] = (
        {"not_done": counts.get("not_done", 0)}
        if shared is None
        else {"shared_batch": {**shared, "items": "this worker's only"}}
    )
    report = {
        "started": started,
        "ended": now(),
        "endpoint": endpoint,
        "parameters": options,
        "schema": schema_hash(),
        "toolkit": __version__,
        "planned": planned,
        "counts": counts,
        **scope,
        "interrupted": interrupted,
        "credits_spent": credits.charged,
        "credits": credits.as_json(),
        "items": credits.rows,
    }
    write_json(_history_path(path, started), report)
    write_json(path, report)
    return path


def _history_path(path: Path, started: str) -> Path:
    """``viesus-reports/NAME-20261207T101500Z.json``; ``-2``, ``-3`` for runs in one second."""
    stamp = started.replace("-", "").replace(":", "").replace("+0000", "Z").replace("+00:00", "Z")
    folder = path.parent / HISTORY
    candidate = folder / f"{path.stem}-{stamp}.json"
    n = 1
    while candidate.exists():
        n += 1
        candidate = folder / f"{path.stem}-{stamp}-{n}.json"
    return candidate
