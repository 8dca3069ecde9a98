"""The benchmark's default set-up, as an outside harness runs it (issue 24): three processes.

- the emulator as shipped: ``viesus serve --workers N --time-scale X --public-url PROXY``;
- the counting proxy alone in front of it (``python -m benchmarks.server --target ...``);
- URL sources from a plain static server (``python -m http.server``), not from the proxy;

and each contender in a process of its own (:mod:`benchmarks.contenders`). Every process
competes for the same cores, as in an independent harness, so ``make bench`` and such a
harness cannot drift apart. ``python -m benchmarks --harness inprocess`` is the old set-up
(emulator and proxy in one process, sources served by the proxy), kept to compare.

:func:`planner_summary` reads back the poll planner's decisions (``--planner-log``: the
contender logs ``viesus._poll_planner`` at DEBUG, one JSON object a line) next to what the
emulator did (every job's created, started and finished times), so a figure like "2.31 polls
per job" can be explained: pace estimated vs measured, first looks that came early, how old
the jobs were when looked at, and how far out of creation order the jobs finished.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

KEY = "bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_up(url: str, process: subprocess.Popen[Any], what: str) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1, trust_env=False)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.stdin is not None:
        process.stdin.close()
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def outside_server(slots: int, scale: float, images: Path) -> Iterator[dict[str, str]]:
    """Emulator, proxy and static source server, each in its own process.

    Yields ``endpoint`` (GraphQL, through the proxy), ``base`` (the proxy, for
    ``/bench/counts``) and ``images`` (the static server's base URL, ending in ``/``)."""
    emulator_port, proxy_port, static_port = free_port(), free_port(), free_port()
    proxy_base = f"http://127.0.0.1:{proxy_port}"
    viesus = Path(sys.executable).with_name("viesus")
    with ExitStack() as stack:
        emulator = subprocess.Popen(
            [
                str(viesus),
                "serve",
                "--port",
                str(emulator_port),
                "--workers",
                str(slots),
                "--time-scale",
                str(scale),
                "--public-url",
                proxy_base,
                "--api-key",
                KEY,
                "--credits",
                str(10**8),
                "--quiet",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        stack.callback(_stop, emulator)
        static = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "http.server",
                str(static_port),
                "--bind",
                "127.0.0.1",
                "--directory",
                str(images),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.callback(_stop, static)
        _wait_until_up(f"http://127.0.0.1:{emulator_port}/stats", emulator, "viesus serve")
        _wait_until_up(f"http://127.0.0.1:{static_port}/", static, "http.server")
        proxy = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.server",
                "--target",
                f"http://127.0.0.1:{emulator_port}",
                "--port",
                str(proxy_port),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        stack.callback(_stop, proxy)
        assert proxy.stdout is not None
        line = proxy.stdout.readline()
        if not line:
            raise RuntimeError("the counting proxy did not start")
        urls: dict[str, str] = json.loads(line)
        urls["images"] = f"http://127.0.0.1:{static_port}/"
        yield urls


def _quantiles(values: list[float]) -> list[float]:
    if not values:
        return []
    ordered = sorted(values)
    pick = [0.05, 0.5, 0.95]
    return [round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4) for q in pick]


def planner_summary(log: Path, jobs: list[dict[str, Any]], scale: float) -> dict[str, Any]:
    """What the planner decided vs what the emulator did (times in real seconds)."""
    polls: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    for line in log.read_text().splitlines():
        _, _, text = line.partition(" ")
        record = json.loads(text)
        (polls if record["event"] == "poll" else answers).append(record)
    finished = sorted(
        (j for j in jobs if j["finished"] is not None and j["started"] is not None),
        key=lambda j: j["created"],
    )
    # Out of creation order: jobs that ended before an older job had ended.
    latest_older = -float("inf")
    overtook = 0
    for job in finished:
        if job["finished"] < latest_older:
            overtook += 1
        latest_older = max(latest_older, job["finished"])
    ends = sorted(j["finished"] for j in finished)
    span = ends[-1] - ends[0] if len(ends) > 1 else float("nan")
    first_looks = sum(a["first_looks"] for a in answers)
    early = sum(a["early"] for a in answers)
    return {
        "polls": len(polls),
        "looks": sum(p["jobs"] for p in polls),
        "first_looks": first_looks,
        "early_first_looks": early,
        "repeat_looks": sum(a["looks"] for a in answers) - first_looks,
        "all_done_polls": sum(1 for a in answers if a["looks"] and a["waiting"] == 0),
        "pace_estimates_p5_50_95": _quantiles([p["pace"] for p in polls if p["pace"]]),
        "pace_measured": round((len(ends) - 1) / span, 2) if span == span and span else None,
        "optimism_p5_50_95": _quantiles([p["optimism"] for p in polls]),
        "jobs_per_poll_p5_50_95": _quantiles([float(p["jobs"]) for p in polls]),
        "age_at_look_p5_50_95": _quantiles([a for p in polls for a in p["ages"]]),
        "deadline_in_p5_50_95": _quantiles([p["deadline_in"] for p in polls]),
        "service_s_p5_50_95": _quantiles([j["finished"] - j["started"] for j in finished]),
        "queued_s_p5_50_95": _quantiles([j["started"] - j["created"] for j in finished]),
        "overtook_older": overtook,
        "scale": scale,
    }
