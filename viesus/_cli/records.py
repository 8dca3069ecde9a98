"""What a run leaves behind for people and monitoring: sidecars and ``viesus-report.json``.

``--sidecar`` writes ``NAME.viesus.json`` beside each output (job id, parameters, credits,
timing, the hash of the schema the client was generated from), so a lab's monitoring can scan
the output folder. ``DIR/viesus-report.json`` summarises every run, also interrupted ones.
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

REPORT_NAME = "viesus-report.json"


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
        "reason": result.reason,
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
    out_dir: Path,
    *,
    started: str,
    endpoint: str,
    options: dict[str, Any],
    records: list[dict[str, Any]],
    planned: int,
    interrupted: bool,
) -> Path:
    counts: dict[str, int] = {}
    for record in records:
        counts[record["status"]] = counts.get(record["status"], 0) + 1
    path = out_dir / REPORT_NAME
    write_json(
        path,
        {
            "started": started,
            "ended": now(),
            "endpoint": endpoint,
            "parameters": options,
            "schema": schema_hash(),
            "toolkit": __version__,
            "planned": planned,
            "counts": counts,
            "not_done": planned - len(records),
            "interrupted": interrupted,
            "credits_spent": sum(r["credits"] for r in records),
            "items": records,
        },
    )
    return path
