"""BENCHMARKS.md from the runs: goals first, then every scenario, then the notes by hand.

The analysis (why a goal is missed, what would close it) is written by hand in
``benchmarks/notes.md`` and included verbatim, so regenerating the numbers keeps it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.__main__ import Run

NOTES = Path(__file__).with_name("notes.md")
LABELS = {
    "docs-generated": "docs' loop, generated client",
    "docs-gql": "docs' loop, gql",
    "facade-baseline": "facade before (the --baseline checkout)",
    "facade": "facade (polling)",
    "facade-webhooks": "facade + webhooks",
}


def _num(value: float, digits: int = 2) -> str:
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.{digits}f}"
    )


def _find(runs: list[Run], contender: str, source: str, images: int, slots: int) -> Run | None:
    for run in runs:
        if (run.contender, run.source, run.images, run.slots) == (contender, source, images, slots):
            return run
    return None


def _goals(runs: list[Run]) -> list[str]:
    largest = max(r.images for r in runs)
    lines = [
        f"## Goals (issue 11), facade with default settings, {largest:,} images",
        "",
        "| goal | slots | measured | met |",
        "|---|---:|---:|:-:|",
    ]

    def row(goal: str, slots: int, value: float | None, limit: float, digits: int = 2) -> None:
        met = "-" if value is None else ("yes" if value <= limit else "**no**")
        lines.append(
            f"| {goal} | {slots} | {_num(value, digits) if value is not None else '-'} | {met} |"
        )

    for slots in sorted({r.slots for r in runs}):
        url = _find(runs, "facade", "url", largest, slots)
        files = _find(runs, "facade", "file", largest, slots)
        row(
            "URL sources: requests per image <= 1.10",
            slots,
            url.figures["requests_total"] if url else None,
            1.10,
        )
        row(
            "local files: requests per image <= 2.10",
            slots,
            files.figures["requests_total"] if files else None,
            2.10,
        )
        polls = [r.figures["polls_per_job"] for r in (url, files) if r is not None]
        row("polls per job <= 1.5 (worst source)", slots, max(polls) if polls else None, 1.5)
        ratios = [r.figures["wall_over_makespan"] for r in (url, files) if r is not None]
        row("wall / server makespan <= 1.05 (worst)", slots, max(ratios) if ratios else None, 1.05)
        cpu = [r.figures["cpu_ms_per_image"] for r in (url, files) if r is not None]
        row("client CPU ms per image <= 2 (worst)", slots, max(cpu) if cpu else None, 2.0, 1)
    lines += [
        "",
        "Peak RSS flat in file size (~100 MB vs 1 MB files, JPEG, PNG, TIFF, WebP) is measured",
        "by `make bench-memory` (`benchmarks/file_sizes.py`): see the notes below.",
        "",
    ]
    return lines


def _ratios(runs: list[Run]) -> list[str]:
    lines = [
        "## Fewer requests than the docs' loop: polling only vs end to end",
        "",
        'The old `make bench` headline ("97x fewer") counted poll requests only. Both ratios,',
        "docs' loop with the generated client / facade, same images, same emulator:",
        "",
        "| source | images | slots | poll requests | all requests | GraphQL root fields |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        if run.contender != "facade":
            continue
        docs = _find(runs, "docs-generated", run.source, run.images, run.slots)
        if docs is None:
            continue
        polls_facade = run.figures["poll_requests"]
        polls_docs = docs.figures["poll_requests"]
        lines.append(
            f"| {run.source} | {run.images:,} | {run.slots} "
            f"| {_num(polls_docs / polls_facade if polls_facade else math.nan, 1)}x "
            f"| {_num(docs.figures['requests_total'] / run.figures['requests_total'], 1)}x "
            f"| {_num(docs.figures['root_fields'] / run.figures['root_fields'], 1)}x |"
        )
    lines.append("")
    return lines


def _start_and_tail(figures: dict[str, Any]) -> str:
    if "start_s" not in figures:  # runs measured before these were recorded
        return ""
    return f" ({_num(figures['start_s'], 2)} + {_num(figures['tail_s'], 2)})"


def _scenario(runs: list[Run], source: str, images: int, slots: int) -> list[str]:
    kind = "URL sources" if source == "url" else "local files"
    lines = [
        f"### {kind}, {images:,} images, {slots} server slots",
        "",
        "| contender | requests/img (GraphQL + PUT + download) | root fields/img | polls/job "
        "| wall / makespan (start + tail, real s) | lag p50 / p95 (s) | CPU ms/img "
        "| peak RSS MB (growth) | ok |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for contender in LABELS:
        run = _find(runs, contender, source, images, slots)
        if run is None:
            continue
        f = run.figures
        req = f["requests"]
        lines.append(
            f"| {LABELS[contender]} | **{_num(f['requests_total'])}** "
            f"({_num(req.get('graphql', 0))} + {_num(req.get('put', 0))} "
            f"+ {_num(req.get('download', 0))}) "
            f"| {_num(f['root_fields'])} | {_num(f['polls_per_job'])} "
            f"| {_num(f['wall_over_makespan'])}{_start_and_tail(f)} "
            f"| {_num(f['lag_p50'], 1)} / {_num(f['lag_p95'], 1)} "
            f"| {_num(f['cpu_ms_per_image'], 1)} "
            f"| {_num(f['peak_rss_mb'], 0)} ({_num(f['rss_growth_mb'], 0)}) "
            f"| {f['ok']}/{images} |"
        )
    lines.append("")
    return lines


def write_report(
    runs: list[Run],
    out: Path,
    *,
    chart: Path,
    command: str,
    scale: float,
    seconds: float,
    machine: str,
    large: bool,
    measured: str,
    load: str | None = None,
    harness: str = "inprocess",
) -> None:
    if harness == "outside":
        setup = [
            "How it is measured (see `benchmarks/`, `benchmarks/outside.py`): as an outside",
            "harness would, in separate processes: the emulator as shipped (`viesus serve`), a",
            "counting proxy in front of it, URL sources served by `python -m http.server`, and",
            "each contender. Every HTTP request a client sends (GraphQL, signed-upload PUT, result",
            "download) passes the proxy, which counts it; the emulator counts GraphQL root fields.",
        ]
    else:
        setup = [
            "How it is measured (see `benchmarks/`, `--harness inprocess`): the emulator runs in",
            "its own process behind a counting proxy in the same process, which also serves the",
            "URL sources; every HTTP request a client sends (GraphQL, signed-upload PUT, result",
            "download) passes the proxy, which counts it; the emulator counts GraphQL root fields.",
        ]
    lines = [
        "# Benchmarks" + (" (large)" if large else ""),
        "",
        f"Measured {measured} on {machine} with `{command}`, {seconds / 60:.0f} min "
        f"(`make {'bench-large' if large else 'bench'}` runs the same without `--baseline`). "
        "The server and the client share the machine's cores"
        + (f" (load average {load} at the end)" if load else "")
        + ", so times and CPU are noisy; counts are not.",
        "",
        *setup,
        "ENHANCE on distinct 128 px JPEGs. Each contender runs in its own process: its CPU time",
        "(user + system, imports excluded) and peak RSS are its own. Makespan is the",
        "server's, first job started to last job finished; detection lag is when the client saw",
        "a job done minus when the server finished it.",
        f"The emulator runs at time scale {scale}: lags are given in modelled service seconds",
        f"(real seconds / {scale}), so 1 ms of real overhead shows as {0.001 / scale:.1f} s.",
        "",
        f"![requests per image and polls per job]({chart.name})",
        "",
    ]
    lines += _goals(runs)
    lines += _ratios(runs)
    lines += ["## Every scenario", ""]
    keys = sorted(
        {(r.slots, r.source, r.images) for r in runs}, key=lambda k: (k[1] != "url", k[2], k[0])
    )
    for slots, source, images in keys:
        lines += _scenario(runs, source, images, slots)
    if NOTES.exists():
        lines += [NOTES.read_text(encoding="utf-8").rstrip(), ""]
    out.write_text("\n".join(lines), encoding="utf-8")


def figures_table(runs: list[Run]) -> list[dict[str, Any]]:
    """The raw figures, one dict per run (for --json)."""
    return [dict(run.figures, contender=run.contender, source=run.source) for run in runs]
