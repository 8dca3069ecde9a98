"""``make bench``: four clients on the same images and emulator, counted by the server side.

For each server slot count (4, 16) one server process runs the emulator behind a counting proxy
(:mod:`benchmarks.server`); for each source kind (URLs, local files) and size N every contender
(:mod:`benchmarks.contenders`) runs in its own process on the same N distinct 128 px JPEGs.
Requests are counted by the proxy (every HTTP request: GraphQL, PUT, download) and GraphQL root
fields by the emulator; CPU time and peak RSS are the contender process's own; makespan and
detection lag come from the emulator's job times. Results go to BENCHMARKS.md and a PNG chart.

``python -m benchmarks`` (100 and 1,000 images), ``--large`` (10,000), ``--sizes 3`` (smoke).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks.chart import draw_chart
from benchmarks.outside import outside_server, planner_summary
from benchmarks.report import write_report

CONTENDERS = ("docs-generated", "docs-gql", "facade", "facade-webhooks")
BASELINE = "facade-baseline"
SOURCES = ("url", "file")
SLOTS = (4, 16)


@dataclass
class Run:
    contender: str
    source: str
    images: int
    slots: int
    figures: dict[str, Any]


def make_images(folder: Path, count: int) -> list[Path]:
    """``count`` distinct 128 px JPEGs (different colours and a pattern per image)."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"p{i:05d}.jpg"
        if not path.exists():
            image = Image.new("RGB", (128, 96), ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))
            draw = ImageDraw.Draw(image)
            draw.rectangle((i % 64, i % 48, 64 + i % 64, 48 + i % 48), fill=(255 - i % 256, 90, 40))
            image.save(path, "JPEG", quality=85)
        paths.append(path)
    return paths


@contextmanager
def server(slots: int, scale: float, images: Path) -> Iterator[dict[str, str]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.server",
            "--workers",
            str(slots),
            "--time-scale",
            str(scale),
            "--images",
            str(images),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark server did not start")
        yield json.loads(line)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def counts(base: str) -> dict[str, Any]:
    with httpx.Client(trust_env=False, timeout=60) as http:
        answer = http.get(f"{base}/bench/counts")
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def run_contender(
    name: str,
    sources: list[str],
    endpoint: str,
    base: str,
    scale: float,
    work: Path,
    baseline: Path | None = None,
    planner_log: Path | None = None,
) -> dict[str, Any]:
    source_file = work / "sources.json"
    source_file.write_text(json.dumps(sources))
    result_file = work / f"{name}.json"
    before = counts(base)
    env = dict(os.environ)
    program = ["-m", "benchmarks.contenders"]
    if name == BASELINE and baseline is not None:
        # Another checkout's viesus first on the path; this file runs as a plain script.
        env["PYTHONPATH"] = os.pathsep.join(
            [str(baseline), str(baseline / "generated"), env.get("PYTHONPATH", "")]
        )
        program = [str(Path(__file__).with_name("contenders.py"))]
    log_args = ["--planner-log", str(planner_log)] if planner_log is not None else []
    subprocess.run(
        [
            sys.executable,
            *program,
            name,
            "--endpoint",
            endpoint,
            "--sources",
            str(source_file),
            "--out",
            str(work / f"out-{name}"),
            "--result",
            str(result_file),
            "--time-scale",
            str(scale),
            *log_args,
        ],
        check=True,
        env=env,
    )
    after = counts(base)
    result: dict[str, Any] = json.loads(result_file.read_text())
    n = len(sources)
    proxy = delta(after["proxy"], before["proxy"])
    fields = delta(
        after["emulator"]["requests"]["by_root_field"],
        before["emulator"]["requests"]["by_root_field"],
    )
    operations = delta(
        after["emulator"]["requests"]["by_operation"],
        before["emulator"]["requests"]["by_operation"],
    )
    known = {job["id"] for job in before["jobs"]}
    jobs = [job for job in after["jobs"] if job["id"] not in known]
    finished = [job for job in jobs if job["finished"] is not None]
    makespan = max(j["finished"] for j in finished) - min(j["started"] for j in finished)
    lags = [
        (result["detected"][j["id"]] - j["finished"]) / scale
        for j in finished
        if j["id"] in result["detected"]
    ]
    wall = result["end"] - result["start"]
    planner = (
        planner_summary(planner_log, jobs, scale)
        if planner_log is not None and planner_log.exists()
        else None
    )
    return {
        "planner": planner,
        "ok": result["ok"],
        "failed": result["failed"],
        "jobs": len(jobs),
        "requests": {kind: count / n for kind, count in sorted(proxy.items())},
        "requests_total": sum(proxy.values()) / n,
        "root_fields": sum(fields.values()) / n,
        "root_fields_by_name": {k: v / n for k, v in sorted(fields.items())},
        "polls_per_job": fields.get("enhancedImage", 0) / max(1, len(jobs)),
        "poll_requests": operations.get("PollEnhancedImages", 0)
        + operations.get("GetEnhancedImage", 0),
        "operations": operations,
        "wall_s": wall,
        "makespan_s": makespan,
        "wall_over_makespan": wall / makespan if makespan > 0 else float("nan"),
        # Where wall time beyond the makespan goes (real seconds): before the first job
        # started, and after the last one finished (detection, download, closing).
        "start_s": min(j["started"] for j in finished) - result["start"],
        "tail_s": result["end"] - max(j["finished"] for j in finished),
        "lag_p50": statistics.median(lags) if lags else float("nan"),
        "lag_p95": percentile(lags, 0.95),
        "cpu_ms_per_image": result["cpu"] * 1000 / n,
        "peak_rss_mb": result["peak_rss_kb"] / 1024,
        "rss_growth_mb": (result["peak_rss_kb"] - result["rss_before_kb"]) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--large", action="store_true", help="10,000 images (make bench-large)")
    parser.add_argument("--slots", type=int, nargs="+", default=list(SLOTS))
    parser.add_argument("--sources", nargs="+", default=list(SOURCES), choices=SOURCES)
    parser.add_argument("--contenders", nargs="+", default=list(CONTENDERS), choices=CONTENDERS)
    parser.add_argument("--time-scale", type=float, default=0.1)
    parser.add_argument(
        "--harness",
        choices=("outside", "inprocess"),
        default="outside",
        help="outside (default): viesus serve, the proxy and a static source server in "
        "processes of their own; inprocess: emulator and proxy in one process (the old set-up)",
    )
    parser.add_argument(
        "--planner-log",
        type=Path,
        default=None,
        help="folder: the facade contenders log the poll planner's decisions there, "
        "summarised in the figures (--json)",
    )
    parser.add_argument("--out", type=Path, default=None, help="default BENCHMARKS.md")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures")
    parser.add_argument(
        "--from-json",
        type=Path,
        default=None,
        help="write the report again from a --json file of an earlier run (no measuring)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="also run the facade from this checkout (e.g. main before a change)",
    )
    args = parser.parse_args()
    sizes = [10_000] if args.large else args.sizes
    out: Path = args.out or Path("BENCHMARKS-large.md" if args.large else "BENCHMARKS.md")
    if args.from_json is not None:
        saved = json.loads(args.from_json.read_text())
        earlier = [Run(**run) for run in saved["runs"]]
        chart = out.with_suffix(".png")
        draw_chart(earlier, chart)
        write_report(earlier, out, chart=chart, **saved["meta"])
        print(f"written {out} and {chart}")
        return
    started = time.time()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="viesus-bench-") as tmp:
        root = Path(tmp)
        images = make_images(root / "images", max(sizes))
        for slots in args.slots:
            start_server = outside_server if args.harness == "outside" else server
            with start_server(slots, args.time_scale, root / "images") as urls:
                for source in args.sources:
                    for n in sizes:
                        chosen = images[:n]
                        images_base = urls.get("images", f"{urls['base']}/bench/images/")
                        sources = (
                            [f"{images_base}{p.name}" for p in chosen]
                            if source == "url"
                            else [str(p) for p in chosen]
                        )
                        names = list(args.contenders)
                        if args.baseline is not None:
                            at = names.index("facade") if "facade" in names else len(names)
                            names.insert(at, BASELINE)
                        for name in names:
                            work = root / f"{slots}-{source}-{n}-{name}"
                            work.mkdir()
                            log = None
                            if args.planner_log is not None and name.startswith("facade"):
                                args.planner_log.mkdir(parents=True, exist_ok=True)
                                log = args.planner_log / f"{slots}-{source}-{n}-{name}.jsonl"
                            figures = run_contender(
                                name,
                                sources,
                                urls["endpoint"],
                                urls["base"],
                                args.time_scale,
                                work,
                                args.baseline,
                                log,
                            )
                            runs.append(Run(name, source, n, slots, figures))
                            print(
                                f"{slots:>2} slots {source:4} {n:>6} {name:16} "
                                f"req/img {figures['requests_total']:.2f} "
                                f"polls/job {figures['polls_per_job']:.2f} "
                                f"cpu {figures['cpu_ms_per_image']:.1f} ms/img "
                                f"lag p95 {figures['lag_p95']:.1f} s",
                                flush=True,
                            )
                            if figures["planner"] is not None:
                                print(json.dumps(figures["planner"]), flush=True)
    meta = {
        "command": ("python -m benchmarks " + " ".join(sys.argv[1:])).strip(),
        "scale": args.time_scale,
        "seconds": time.time() - started,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}",
        "large": args.large,
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "harness": args.harness,
        "load": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
    }
    chart = out.with_suffix(".png")
    draw_chart(runs, chart)
    write_report(runs, out, chart=chart, **meta)
    if args.json is not None:
        args.json.write_text(
            json.dumps({"meta": meta, "runs": [r.__dict__ for r in runs]}, indent=1)
        )
    print(f"written {out} and {chart}")


if __name__ == "__main__":
    main()
